//! Inputs that `#[derive(ZkShared)]` rejects, with the errors a user sees.

#[test]
fn derive_errors() {
    let cases = trybuild::TestCases::new();
    // trybuild resolves the pattern from the facade's manifest directory.
    cases.compile_fail("../tests/ui/*.rs");
}
