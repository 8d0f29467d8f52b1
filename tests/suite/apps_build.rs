//! Smoke test of the app build: every app workspace (`sample-apps/`, `tests/apps/`)
//! builds for `wasm32-wasip2`, each app is a WebAssembly component, and each packs into
//! a marketplace package holding its manifest and that component.

use std::fs::{self, File};
use std::io::Read;
use std::path::Path;

use palaver_tests::apps;

/// The names and contents of a package's entries.
fn entries(package: &Path) -> Vec<(String, Vec<u8>)> {
    let file = File::open(package).unwrap_or_else(|e| panic!("open {}: {e}", package.display()));
    let mut zip = zip::ZipArchive::new(file)
        .unwrap_or_else(|e| panic!("{} is not a zip: {e}", package.display()));
    (0..zip.len())
        .map(|i| {
            let mut entry = zip.by_index(i).expect("read a zip entry");
            let mut bytes = Vec::new();
            entry
                .read_to_end(&mut bytes)
                .expect("read a zip entry's bytes");
            (entry.name().to_string(), bytes)
        })
        .collect()
}

#[test]
fn app_workspaces_build_to_components_and_pack() {
    let marketplace = tempfile::tempdir().expect("temporary marketplace directory");

    let cases = [
        (
            apps::sample_apps_dir(),
            "hello",
            apps::hello_package as fn(&Path) -> _,
        ),
        (apps::test_apps_dir(), "hostile", apps::hostile_package),
        (apps::test_apps_dir(), "polite", apps::polite_package),
        (apps::test_apps_dir(), "guard", apps::guard_package),
    ];
    for (workspace, app, pack) in cases {
        let wasm_file = apps::wasm_path(&workspace, app);
        let wasm = fs::read(&wasm_file).expect("read the built component");
        assert!(
            apps::is_component(&wasm),
            "{} is not a WebAssembly component: it starts with {:02x?}",
            wasm_file.display(),
            &wasm[..wasm.len().min(8)]
        );
        eprintln!("{app}: {} bytes", wasm.len());

        let package = pack(marketplace.path());
        assert_eq!(
            package.file_name().and_then(|n| n.to_str()),
            Some(format!("{app}-0.1.0.zip").as_str())
        );
        let entries = entries(&package);
        let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            &names[..2],
            ["app.toml", "app.wasm"],
            "{}",
            package.display()
        );
        let manifest = fs::read(workspace.join(app).join("app.toml")).expect("read app.toml");
        assert_eq!(entries[0].1, manifest, "app.toml is packed unchanged");
        assert_eq!(entries[1].1, wasm, "app.wasm is the built component");
        let manifest: toml::Table =
            toml::from_str(std::str::from_utf8(&manifest).expect("app.toml is UTF-8"))
                .expect("app.toml parses");
        assert_eq!(manifest["id"].as_str(), Some(app));
        assert_eq!(manifest["api-version"].as_str(), Some("0.1.0"));
    }

    // Packing again gives the same bytes, and leaves no temporary file behind.
    let again = tempfile::tempdir().expect("temporary directory");
    let first = fs::read(apps::hello_package(marketplace.path())).expect("read package");
    let second = fs::read(apps::hello_package(again.path())).expect("read package");
    assert_eq!(first, second, "packages are reproducible");
    let mut listed: Vec<String> = fs::read_dir(marketplace.path())
        .expect("list the marketplace")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    listed.sort();
    assert_eq!(
        listed,
        [
            "guard-0.1.0.zip",
            "hello-0.1.0.zip",
            "hostile-0.1.0.zip",
            "polite-0.1.0.zip"
        ]
    );
}
