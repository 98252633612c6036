//! Feeds arbitrary bytes to the spec loader as fleet.yaml. The loader must
//! return `Ok` or `Err(SpecErrors)` and never panic; rendering the errors must
//! not panic either.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("fleet.yaml");
    std::fs::write(&path, data).expect("write the input");
    if let Err(errors) = fleetcert::spec::load(&path) {
        let _ = errors.render(false);
    }
});
