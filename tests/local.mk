# Tests: Check unit suites, fixture plugins, integration scripts.
