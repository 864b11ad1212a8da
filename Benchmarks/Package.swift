// swift-tools-version: 6.1
// Benchmarks of the Swift Sphinx wrapper against the C core it wraps. A package of its own, so that
// `swift test` at the root never builds package-benchmark. Run: swift package --disable-sandbox benchmark
import PackageDescription

let package = Package(
    name: "LoopixBenchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "Loopix", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
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
        )
    ],
    swiftLanguageModes: [.v6]
)
