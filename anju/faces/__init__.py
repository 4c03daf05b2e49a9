"""Face templates, shared by the hub (which enrols) and the edge (which matches).

- `landmarks`: where a face is and its points, from dlib's models (finding, not matching);
- `engines`: aligned face in, normalised template out, one engine per model, chosen by id;
- `mobilefacenet_model`: the opt-in MobileFaceNet's file, fetched by `make install`, checked;
- `model_file`: a model file's presence and checksum, for every engine that loads one;
- `risk`: how likely a stranger is to be taken for a resident of a given gallery.
"""
