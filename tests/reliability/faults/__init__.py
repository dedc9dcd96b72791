"""Faults injected into a real workbench, one module per fault, each through the real processes.

Every module starts one workbench (``tests.e2e.harness``) for its tests, breaks one thing the way it
breaks in operations (a process killed by PID, a disk filled, an IdP gone), and checks what a user
sees during the fault, how long recovery takes, and that nothing stored was lost.
"""
