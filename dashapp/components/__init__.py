"""Reusable pieces of the pages: frame and controls, background-job panel, zoomable charts, URL sync."""
