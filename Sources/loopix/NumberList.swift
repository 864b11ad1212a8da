// Comma-separated lists of numbers in options ("1,2,4", "0.5,1", ranges "1-19" for integers).
import ArgumentParser
import Foundation

/// The numbers of a comma-separated option; an integer list may hold ranges like 1-19. An empty
/// text is an empty list; anything that is not a number is a validation error naming `option`.
func numberList<Number: LosslessStringConvertible>(_ text: String, _ option: String) throws -> [Number] {
    try text.split(separator: ",").flatMap { part -> [Number] in
        let item = part.trimmingCharacters(in: .whitespaces)
        if Number.self == Int.self, let dash = item.dropFirst().firstIndex(of: "-"),
            let low = Int(item[..<dash]), let high = Int(item[item.index(after: dash)...]), low <= high {
            return (low...high).map { $0 as! Number }
        }
        guard let value = Number(item) else { throw ValidationError("\(option): not a number: \(item)") }
        return [value]
    }
}
