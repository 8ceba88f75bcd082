"""Counting people: unique visitors by age group and gender (``VideoStream.count_people``,
``agegender-edge video --summary FILE.json``).

A person is a track seen on at least ``min_track_frames`` frames (shorter tracks are mostly
false detections or faces glimpsed too briefly to judge); each is reported with its smoothed age,
80 % interval, age group and gender (smoothing.py: the whole track's weighted average, not a
vote of per-frame labels), and the totals are counted by age group x gender. The tracker's
appearance gate keeps two people from becoming one track and its re-identification keeps an
occluded person from becoming two (tracker.py), which is what makes the count a count.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Optional, Sequence

DEFAULT_MIN_TRACK_FRAMES = 5


@dataclass(frozen=True)
class Person:
    track_id: int
    first_frame: int
    last_frame: int
    frames_seen: int
    age: float
    age_interval_80: tuple[float, float]
    age_group: str
    gender: str
    gender_probability: float
    embedding: Optional[tuple[float, ...]] = None   # only when the stream was asked for descriptors


@dataclass(frozen=True)
class PeopleCount:
    unique_people: int
    min_track_frames: int
    people: list[Person]
    by_age_group_gender: dict[str, dict[str, int]]   # age group -> gender -> people (every group and gender listed)
    by_gender: dict[str, int]
    by_age_group: dict[str, int]
    frames_processed: int = 0
    seconds: Optional[float] = None       # frames / the source's frame rate, when known
    scene_cuts: int = 0
    tracks_too_short: int = 0             # tracks under min_track_frames (not counted)
    source: str = ""
    live: bool = False
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = asdict(self)
        for p in d["people"]:
            if p["embedding"] is None:
                del p["embedding"]
        return d

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_dict(), **kwargs)


def count_people(tracks: Sequence, min_track_frames: int, stats=None, metadata=None, cuts: int = 0,
                 all_tracks: Optional[int] = None) -> PeopleCount:
    """``tracks``: TrackSummary objects already filtered to >= ``min_track_frames`` frames."""
    if min_track_frames < 1:
        raise ValueError("min_track_frames must be >= 1")
    groups = list(getattr(metadata, "age_groups", ()) or ())
    genders = list(getattr(metadata, "gender_labels", ()) or ())
    people = [Person(track_id=t.track_id, first_frame=t.first_frame, last_frame=t.last_frame,
                     frames_seen=t.frames_seen, age=t.age, age_interval_80=t.age_interval_80, age_group=t.age_group,
                     gender=t.gender, gender_probability=t.gender_probability, embedding=getattr(t, "embedding", None))
              for t in tracks if t.frames_seen >= min_track_frames]
    for p in people:
        if p.age_group not in groups:
            groups.append(p.age_group)
        if p.gender not in genders:
            genders.append(p.gender)
    table = {g: {s: 0 for s in genders} for g in groups}
    for p in people:
        table[p.age_group][p.gender] += 1
    fps = getattr(stats, "fps", None)
    frames = getattr(stats, "frames_processed", 0)
    return PeopleCount(unique_people=len(people), min_track_frames=min_track_frames, people=people,
                       by_age_group_gender=table, by_gender={s: sum(table[g][s] for g in groups) for s in genders},
                       by_age_group={g: sum(table[g].values()) for g in groups}, frames_processed=frames,
                       seconds=round(frames / fps, 3) if fps else None, scene_cuts=cuts,
                       tracks_too_short=(all_tracks - len(people)) if all_tracks is not None else 0,
                       source=getattr(stats, "source", ""), live=bool(getattr(stats, "live", False)))
