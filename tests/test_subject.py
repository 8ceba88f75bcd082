"""The one subject rule (agegender_edge/subject.py)."""
from agegender_edge.subject import subject_index


def test_subject_is_the_face_nearest_the_centre_within_a_quarter():
    boxes = [(0, 0, 40, 40), (90, 95, 60, 60), (100, 100, 40, 40)]
    assert subject_index(boxes, 250, 250) == 1      # centre (120, 125) is nearest (125, 125)
    assert subject_index([(0, 0, 40, 40)], 250, 250) is None
    assert subject_index([], 250, 250) is None
