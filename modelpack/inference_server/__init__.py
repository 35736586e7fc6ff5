"""The inference server of model package images: serves one model over HTTP.

Runs Azure ML score.py files (``init()``/``run()``) and MLflow models unchanged, with the
routes, headers and answers of Azure ML's ``azmlinfsrv``. Start it with
``python -m modelpack.inference_server --entry_script score.py --model_dir model/``; the
settings are described in ``settings.py``. In a package image it is
``modelpack_inference_server`` (see modelpack/builds/server.py): its imports are relative.
"""

__version__ = "0.1.0"
