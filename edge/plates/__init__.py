"""Chinese licence plates at a vehicle lane: find them in a frame, read them, check them.

`locate` finds plate-coloured regions, `ocr` finds and reads lines of text with an engine whose
model ships in its wheel (behind a small interface), `decode` chooses a plate's characters by
position from the recogniser's probabilities, `reader` turns all three into validated plates,
`vote` agrees on one plate per vehicle over several frames, and `anpr` accepts results that
barrier cameras recognised themselves.
"""
