// swift-tools-version: 6.1
// Benchmarks of the Swift Sphinx wrapper against the C core it wraps, and of the provider's mailbox store
// against the same store written over GRDB. A package of its own, so that `swift test` at the root never
// builds package-benchmark or GRDB. Run: swift package --disable-sandbox benchmark
import PackageDescription

let package = Package(
    name: "LoopixBenchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "Loopix", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        // Only for MailboxBenchmarks' comparison: the root package does not depend on GRDB.
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
    ],
    targets: [
        .executableTarget(
            name: "SphinxBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "LoopixSphinx", package: "Loopix"),
                .product(name: "CLoopixSphinx", package: "Loopix"),
            ],
            path: "SphinxBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "MailboxBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "LoopixProvider", package: "Loopix"),
                .product(name: "LoopixSphinx", package: "Loopix"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            path: "MailboxBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
