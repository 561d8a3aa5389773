"""The tiny Hugging Face captioners (:mod:`hf_captioners`, beside this file) as fixtures of these tests."""

from hf_captioners import blip_folder, hf_folder, ved_folder  # noqa: F401  (fixtures)
