// `loopix keygen`: a node's or a client's key file, readable by its owner only.
import ArgumentParser
import LoopixNetwork
import LoopixSphinx

struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Create a key file (X25519 Sphinx key and Ed25519 signing key) with mode 0600.")

    @Option(name: .shortAndLong, help: "The key file to create; an existing file is never overwritten.")
    var out: String

    @Flag(help: "Print the public keys as JSON.")
    var json = false

    func run() throws {
        let keys = KeyFile.generate()
        try keys.write(to: out)
        if json {
            print("{\"sphinxPublicKey\": \"\(keys.sphinxKey.publicKey)\", \"signingPublicKey\": \"\(keys.signingKey.verifyingKey)\"}")
        } else {
            print("wrote \(out) (mode 0600)")
            print("sphinx public key:  \(keys.sphinxKey.publicKey)")
            print("signing public key: \(keys.signingKey.verifyingKey)")
        }
    }
}
