//go:build !js && !wasip1

package transcript

// knownFilesTopics are the files and topics scenarios' known differences.
var knownFilesTopics = []KnownDifference{
	{Scenario: "files", Step: "upload missing part", Path: "body.error.message",
		Reason: "DataFusion's \"Did you mean\" suggestion for the unknown function FILE changes between runs of " +
			"the real server ('pi', 'nvl2', 'sin': a tie of equally close names picked in hash order); the emulator " +
			"always answers \"Invalid function 'file'.\\nDid you mean 'pi'?\""},
	{Scenario: "topics", Step: "consume ", Path: "body.messages.*.key",
		Reason: "the real server serialises the row key from a HashMap (kalamdb-publisher/src/payload.rs " +
			"row_to_json_map), so its field order is random per message, and it holds the row's volatile _seq; " +
			"the emulator sends the same fields (the row JSON without _table) in column order, with its own _commit_seq"},
	{Scenario: "topics", Step: "consume ", Path: "body.messages.*.payload",
		Reason: "base64 of the row JSON plus _table, serialised by the real server from a HashMap " +
			"(kalamdb-publisher/src/payload.rs extract_full_row_with_metadata) in random field order and " +
			"holding the volatile _seq; the emulator sends the same fields in column order"},
}
