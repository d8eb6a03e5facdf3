"""One small reader per input format; ``provenance.pipeline.readers`` picks one per file and numbers the records.

Every reader is a generator of :class:`~provenance.pipeline.formats.common.RawRecord` that takes the options and
an optional resume position (what an earlier record's ``position`` said), so ``scan --resume`` starts reading
where the last committed record ended instead of at the top of the file. Heavy libraries (pyarrow, warcio,
zstandard) are imported inside the reader that needs them: ``import provenance.cli`` stays light.
"""
