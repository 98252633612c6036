//! The device agent end to end: the agent binary against a real mosquitto
//! broker (mutual TLS), with its job over MQTT (a test-side jobs service on
//! the broker) or over the jobs HTTPS data plane (the project's AWS
//! emulator, SigV4 over plain http).

mod https_jobs;
mod jobs_service;
mod mqtt_jobs;
mod support;
