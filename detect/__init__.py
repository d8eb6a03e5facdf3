"""Machine-text and PII detectors behind one interface (text batch in, scores out).

Filled in by the detection and PII issues.
"""
