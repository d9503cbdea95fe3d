"""What every layer shares and nothing of the package beneath it: errors, the accepted values
(choices), limits, artefact files, lazy names, the version and provenance. Imports nothing
else of the package."""
