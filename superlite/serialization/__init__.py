"""Turning objects into bytes and back: artifact serializers, hashing, and the broker codec."""
