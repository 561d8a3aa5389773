"""Bundled data: sample images (see images/LICENSES.md), trained models, label lists.

In the repository this folder sits beside ``explorer/``; in the wheel it is
installed as the package ``explorer.resources``. Find files through
:func:`explorer.assets.resource_path`, never through a path of your own.
"""
