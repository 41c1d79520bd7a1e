"""Mixture families, side by side: each one fills the protocol of :mod:`fastem.base`."""
