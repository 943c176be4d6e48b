"""Stores: the interface (:mod:`canh.store.base`) and its implementations; only ``canh`` picks one."""

from canh.store.base import ANY, NEW, Bucket, Store, Versioned, WriteResult

__all__ = ["ANY", "NEW", "Bucket", "Store", "Versioned", "WriteResult"]
