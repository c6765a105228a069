//! Inputs that `#[derive(ZkShared)]` rejects, and the compile errors they produce.

#[test]
fn derive_errors() {
    let cases = trybuild::TestCases::new();
    // trybuild resolves the pattern from the facade's manifest directory.
    cases.compile_fail("../tests/ui/*.rs");
}
