"""Reports: the lab report (HTML, PDF), FHIR resources and the patient summary."""
