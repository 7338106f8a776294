package controllers

// WithCRDDefaults lets the envtest suite check the unit tests' defaulting against the API server.
var WithCRDDefaults = withCRDDefaults
