"""Canh: a security operations toolkit for SOC teams on watch over government information systems."""

__version__ = "0.1.0"
