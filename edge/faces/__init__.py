"""Faces at a pedestrian lane: find, follow, identify, check liveness, decide over frames.

`gallery` holds the enrolled templates as one matrix for 1:N identification with a margin
over the second-best person; `liveness` tells a live face from a still image held up to the
camera; `pipeline` ties them to frames. Face is never the only way in: every lane also takes
cards, PINs and QR codes.
"""
