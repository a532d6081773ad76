//go:build !js && !wasip1

package transcript

// knownAuthWS: what the emulator does not copy in the auth, sql_errors and
// WebSocket scenarios.
var knownAuthWS = []KnownDifference{
	{
		Scenario: "sql_errors", Step: "type mismatch", Path: "body.error.message",
		Reason: "CAST('x' AS INT): DataFusion fails in its optimizer ('simplify_expressions' failed / caused by / " +
			"Arrow Cast error naming Int32); SQLite has no such planner pass, so the emulator's text is " +
			"'Arrow error: Cast error: Cannot cast value 'x' to Int'. Status, code and details match.",
	},
}
