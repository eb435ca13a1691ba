"""Emulators for the two systems that cannot run here (Jenkins, Argo CD's controller).

Each one says it is an emulator wherever it shows itself; neither is ever called the real thing.
"""
