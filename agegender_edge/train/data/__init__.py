"""Dataset readers (Adience fold files, UTKFace folders) and the packed .h5 format."""
