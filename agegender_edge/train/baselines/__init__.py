"""Adapters that run third-party age/gender models through our evaluation."""
