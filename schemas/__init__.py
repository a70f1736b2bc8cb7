"""pandera schemas: one module per source format. Each exposes `schema(registry) -> DataFrameSchema`.

Check names follow `<column>:<rule>` so that a failure can be reported against the right column.
"""
