"""Local emulators of vendor APIs for tests and the offline demo. Product code never imports
this package; it only points its base URLs at a running sandbox."""
