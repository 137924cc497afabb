"""Typing state: the interface and its implementations."""
from .base import Typist, TypingState
from .memory import MemoryTypingState

__all__ = ["MemoryTypingState", "Typist", "TypingState"]
