"""dwi: decent-work indicators from official labour statistics, validated and loaded into DuckDB."""

__version__ = "0.1.0"
