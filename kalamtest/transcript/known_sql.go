//go:build !js && !wasip1

package transcript

// knownSQL are the SQL-engine differences kept on purpose
// (scenarios sql_types, sql_ddl_dml, sql_batches_caps, sql_permissions).
var knownSQL = []KnownDifference{
	{Scenario: "sql_types", Step: "select all", Path: "body.results.0.rows.1.7",
		Reason: "DECIMAL(10,2) -0.01 reads back from kalamdb-server 0.4.2-rc.3 as \"0.01\": the sign is lost, which is data corruption; the emulator keeps \"-0.01\""},
	{Scenario: "sql_types", Step: "select a decimal cast to text", Path: "status",
		Reason: "kalamdb-server 0.4.2-rc.3 drops the connection on CAST(decimal AS TEXT) and never answers; the emulator answers the cast (\"12345678.91\") rather than copy a crash"},
	{Scenario: "sql_types", Step: "select a decimal cast to text", Path: "headers",
		Reason: "see status: the real server sent no response"},
	{Scenario: "sql_types", Step: "select a decimal cast to text", Path: "body",
		Reason: "see status: the real server sent no response"},
	{Scenario: "sql_types", Step: "abort", Path: "aborted",
		Reason: "the recording stopped at the dropped connection (CAST(decimal AS TEXT)); the replay against the emulator goes on"},
	{Scenario: "sql_batches_caps", Step: "transaction", Path: "body.results.0.message",
		Reason: "\"Transaction started (<id>)\": the id is a fresh UUIDv7 on both sides (the emulator makes one too), never equal"},
	{Scenario: "sql_batches_caps", Step: "transaction", Path: "body.results.1.message",
		Reason: "\"Transaction committed/rolled back (<id>)\": the id is a fresh UUIDv7 on both sides, never equal"},
	{Scenario: "sql_ddl_dml", Step: "drop table", Path: "body.results.0.message",
		Reason: "\"Cleanup job: CL-<12 hex>\": the job id is generated on both sides (the emulator uses the same shape), never equal"},
	{Scenario: "sql_permissions", Step: "service reads notes", Path: "body.results.0.rows",
		Reason: "a USER table read across users without ORDER BY: the real server's row order follows its storage scan and changes between reads (root saw alice first, the service bob first); the emulator answers in primary-key/insert order"},
	{Scenario: "sql_permissions", Step: "bob logs in after drop", Path: "status",
		Reason: "kalamdb-server 0.4.2-rc.3 still logs in a user dropped by DROP USER (soft delete), although kalamdb-auth services/unified/password.rs rejects users with deleted_at set: a security defect the emulator does not copy (it answers 401 Invalid credentials)"},
	{Scenario: "sql_permissions", Step: "bob logs in after drop", Path: "headers",
		Reason: "see status: the real server sets session cookies for the dropped user"},
	{Scenario: "sql_permissions", Step: "bob logs in after drop", Path: "body",
		Reason: "see status: the real server answers with tokens for the dropped user"},
}
