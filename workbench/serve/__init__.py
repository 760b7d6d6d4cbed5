"""Serving saved models over HTTP (``workbench serve``): built on :func:`workbench.models.load`.

Empty until the serving issue lands; it sits beside :mod:`workbench.runner` and
:mod:`workbench.reports` and, like them, never imports a domain: every model goes through the
saved-model contract.
"""
