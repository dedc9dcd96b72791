"""Data management of the workbench: ``workbench data fetch`` refreshes the data folder."""
