"""The statement allowlist: which outside SQL the access guard sends to a live database, and in what form.

`check_statement(sql, dialect, mode)` parses exactly one statement with a real parser (pglast, which is
PostgreSQL's own parser, for PostgreSQL; sqlglot for MySQL/MariaDB and SQLite), walks the whole tree and
returns the statement regenerated from that tree. Because the text sent is generated, comments never
reach the server: MySQL's executable comments (`/*! ... */`) and optimizer hints (`/*+ ... */`) included.
The regenerated text is parsed and checked a second time, so what runs is exactly what was checked.

What passes, per mode:
- `read_only`: queries (SELECT, set operations, VALUES, WITH of read-only CTEs) and EXPLAIN; EXPLAIN
  without ANALYZE of a data-changing statement (it plans, it does not run). No locking clauses,
  no SELECT INTO, no writable CTEs.
- `rollback_write`: also INSERT/UPDATE/DELETE (and MERGE on PostgreSQL) and EXPLAIN ANALYZE of them;
  the transaction is rolled back by the guard.
- `scratch`: also DDL on the scratch database itself; never anything that reaches outside it (roles,
  databases, tablespaces, server files, other connections).
Every mode: one statement, no transaction control, no function on the denylist (server files, sleeping,
locks, settings, signalling other sessions, running SQL text). Outside scratch, every function called
anywhere in the tree, FROM items included, must be on the engine's allowlist of side-effect-free functions.

The lists are module-level constants so that extending them is a one-line change with a test.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, NoReturn

import pglast
import sqlglot
from pglast import ast as pg
from pglast import enums as pg_enums
from pglast.stream import RawStream
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect as SqlglotDialect
from sqlglot.errors import ErrorLevel

from dbsage.tools.catalog import Dialect
from dbsage.tools.errors import GuardRefused, InputError
from dbsage.tools.sources.guard import Mode

# -- limits -----------------------------------------------------------------------------------------

MAX_STATEMENT_CHARS = 100_000
"""Longer statements are refused ('too_large'): outside SQL is written by a person or an agent, not dumped."""

MAX_TREE_DEPTH = 128
"""Deeper parse trees are refused ('too_complex'). Both deparsers recurse; PostgreSQL's fails near 200."""

# -- PostgreSQL functions ------------------------------------------------------------------------------

_PG_AGGREGATES = frozenset({
    "any_value", "array_agg", "avg", "bit_and", "bit_or", "bit_xor", "bool_and", "bool_or", "corr",
    "count", "covar_pop", "covar_samp", "every", "json_agg", "json_agg_strict", "json_object_agg",
    "json_object_agg_strict", "json_object_agg_unique", "json_object_agg_unique_strict", "jsonb_agg",
    "jsonb_agg_strict", "jsonb_object_agg", "jsonb_object_agg_strict", "jsonb_object_agg_unique",
    "jsonb_object_agg_unique_strict", "max", "min", "mode", "percentile_cont", "percentile_disc",
    "range_agg", "range_intersect_agg", "regr_avgx", "regr_avgy", "regr_count", "regr_intercept",
    "regr_r2", "regr_slope", "regr_sxx", "regr_sxy", "regr_syy", "stddev", "stddev_pop",
    "stddev_samp", "string_agg", "sum", "var_pop", "var_samp", "variance", "xmlagg",
})
_PG_WINDOW_FUNCTIONS = frozenset({
    "cume_dist", "dense_rank", "first_value", "lag", "last_value", "lead", "nth_value", "ntile",
    "percent_rank", "rank", "row_number",
})
_PG_MATH = frozenset({
    "abs", "acos", "acosd", "acosh", "asin", "asind", "asinh", "atan", "atan2", "atan2d", "atand",
    "atanh", "cbrt", "ceil", "ceiling", "cos", "cosd", "cosh", "cot", "cotd", "degrees", "div", "erf",
    "erfc", "exp", "factorial", "floor", "gamma", "gcd", "lcm", "lgamma", "ln", "log", "log10",
    "min_scale", "mod", "pi", "pow", "power", "radians", "random", "random_normal", "round", "scale",
    "sign", "sin", "sind", "sinh", "sqrt", "tan", "tand", "tanh", "trim_scale", "trunc",
    "width_bucket",
})
_PG_STRINGS = frozenset({
    "ascii", "bit_count", "bit_length", "btrim", "casefold", "char_length", "character_length", "chr",
    "concat", "concat_ws", "convert", "convert_from", "convert_to", "crc32", "crc32c", "decode",
    "encode", "format", "get_bit", "get_byte", "initcap", "left", "length", "lower", "lpad", "ltrim",
    "md5", "normalize", "octet_length", "overlay", "parse_ident", "position", "quote_ident",
    "quote_literal", "quote_nullable", "regexp_count", "regexp_instr", "regexp_like", "regexp_match",
    "regexp_matches", "regexp_replace", "regexp_split_to_array", "regexp_split_to_table",
    "regexp_substr", "repeat", "replace", "reverse", "right", "rpad", "rtrim", "set_bit", "set_byte",
    "sha224", "sha256", "sha384", "sha512", "split_part", "starts_with", "string_to_array",
    "string_to_table", "strpos", "substr", "substring", "to_ascii", "to_bin", "to_hex", "to_oct",
    "translate", "unistr", "upper",
    # targets of SQL syntax: x LIKE y ESCAPE z, x SIMILAR TO y, IS NORMALIZED, COLLATION FOR
    "like_escape", "similar_escape", "similar_to_escape", "is_normalized", "pg_collation_for",
})
_PG_DATE_TIME = frozenset({
    "age", "clock_timestamp", "date_add", "date_bin", "date_part", "date_subtract", "date_trunc",
    "extract", "isfinite", "justify_days", "justify_hours", "justify_interval", "make_date",
    "make_interval", "make_time", "make_timestamp", "make_timestamptz", "now", "overlaps",
    "statement_timestamp", "timeofday", "timezone", "to_char", "to_date", "to_number",
    "to_timestamp", "transaction_timestamp",
})
_PG_JSON = frozenset({
    "array_to_json", "json_array_elements", "json_array_elements_text", "json_array_length",
    "json_build_array", "json_build_object", "json_each", "json_each_text", "json_extract_path",
    "json_extract_path_text", "json_object", "json_object_keys", "json_populate_record",
    "json_populate_recordset", "json_strip_nulls", "json_to_record", "json_to_recordset",
    "json_typeof", "jsonb_array_elements", "jsonb_array_elements_text", "jsonb_array_length",
    "jsonb_build_array", "jsonb_build_object", "jsonb_each", "jsonb_each_text", "jsonb_extract_path",
    "jsonb_extract_path_text", "jsonb_insert", "jsonb_object", "jsonb_object_keys",
    "jsonb_path_exists", "jsonb_path_exists_tz", "jsonb_path_match", "jsonb_path_match_tz",
    "jsonb_path_query", "jsonb_path_query_array", "jsonb_path_query_array_tz",
    "jsonb_path_query_first", "jsonb_path_query_first_tz", "jsonb_path_query_tz",
    "jsonb_populate_record", "jsonb_populate_record_valid", "jsonb_populate_recordset", "jsonb_pretty",
    "jsonb_set", "jsonb_set_lax", "jsonb_strip_nulls", "jsonb_to_record", "jsonb_to_recordset",
    "jsonb_typeof", "row_to_json", "to_json", "to_jsonb",
})
_PG_ARRAYS_AND_SETS = frozenset({
    "array_append", "array_cat", "array_dims", "array_fill", "array_length", "array_lower",
    "array_ndims", "array_position", "array_positions", "array_prepend", "array_remove",
    "array_replace", "array_reverse", "array_sample", "array_shuffle", "array_sort",
    "array_to_string", "array_upper", "cardinality", "generate_series", "generate_subscripts",
    "trim_array", "unnest",
})
_PG_RANGES = frozenset({
    "daterange", "datemultirange", "int4multirange", "int4range", "int8multirange", "int8range",
    "isempty", "lower_inc", "lower_inf", "multirange", "nummultirange", "numrange", "range_merge",
    "tsmultirange", "tsrange", "tstzmultirange", "tstzrange", "upper_inc", "upper_inf",
})
_PG_TEXT_SEARCH = frozenset({
    "array_to_tsvector", "get_current_ts_config", "numnode", "phraseto_tsquery", "plainto_tsquery",
    "querytree", "setweight", "strip", "to_tsquery", "to_tsvector", "ts_debug", "ts_delete",
    "ts_filter", "ts_headline", "ts_lexize", "ts_parse", "ts_rank", "ts_rank_cd", "ts_token_type",
    "tsvector_to_array", "websearch_to_tsquery",
})
_PG_NETWORK_UUID_GEOMETRY = frozenset({
    "abbrev", "broadcast", "family", "host", "hostmask", "inet_merge", "inet_same_family",
    "macaddr8_set7bit", "masklen", "netmask", "network", "set_masklen",
    "gen_random_uuid", "uuid_extract_timestamp", "uuid_extract_version", "uuidv4", "uuidv7",
    "area", "bound_box", "box", "center", "circle", "diagonal", "diameter", "height", "isclosed",
    "isopen", "line", "lseg", "npoints", "path", "pclose", "point", "polygon", "popen", "radius",
    "width",
})
_PG_TYPE_CONVERSIONS = frozenset({
    "bool", "bpchar", "char", "date", "float4", "float8", "int2", "int4", "int8", "interval", "money",
    "name", "numeric", "oid", "text", "time", "timestamp", "timestamptz", "timetz", "varchar",
    "xmlcomment", "xmltext", "xml_is_well_formed", "xml_is_well_formed_content",
    "xml_is_well_formed_document", "xpath", "xpath_exists",
    "enum_first", "enum_last", "enum_range", "num_nonnulls", "num_nulls",
})
_PG_SESSION_AND_CATALOG_INFO = frozenset({
    "current_database", "current_query", "current_schema", "current_schemas", "current_setting",
    "currval", "lastval", "inet_client_addr", "inet_client_port", "inet_server_addr",
    "inet_server_port", "pg_backend_pid", "pg_blocking_pids", "pg_conf_load_time",
    "pg_is_other_temp_schema", "pg_jit_available", "pg_my_temp_schema", "pg_postmaster_start_time",
    "pg_safe_snapshot_blocking_pids", "pg_trigger_depth", "version",
    "has_any_column_privilege", "has_column_privilege", "has_database_privilege",
    "has_foreign_data_wrapper_privilege", "has_function_privilege", "has_language_privilege",
    "has_largeobject_privilege", "has_parameter_privilege", "has_schema_privilege",
    "has_sequence_privilege", "has_server_privilege", "has_table_privilege",
    "has_tablespace_privilege", "has_type_privilege", "pg_has_role", "row_security_active",
    "acldefault", "aclexplode", "makeaclitem",
    "col_description", "format_type", "obj_description", "shobj_description", "pg_basetype",
    "pg_char_to_encoding", "pg_encoding_to_char", "pg_describe_object", "pg_get_catalog_foreign_keys",
    "pg_get_constraintdef", "pg_get_expr", "pg_get_function_arguments", "pg_get_function_identity_arguments",
    "pg_get_function_result", "pg_get_functiondef", "pg_get_indexdef", "pg_get_keywords",
    "pg_get_object_address", "pg_get_partition_constraintdef", "pg_get_partkeydef", "pg_get_ruledef",
    "pg_get_serial_sequence", "pg_get_statisticsobjdef", "pg_get_triggerdef", "pg_get_userbyid",
    "pg_get_viewdef", "pg_identify_object", "pg_identify_object_as_address",
    "pg_index_column_has_property", "pg_index_has_property", "pg_indexam_has_property",
    "pg_input_error_info", "pg_input_is_valid", "pg_options_to_table", "pg_settings_get_flags",
    "pg_tablespace_databases", "pg_tablespace_location", "pg_typeof", "pg_get_acl",
    "to_regclass", "to_regcollation", "to_regnamespace", "to_regoper", "to_regoperator",
    "to_regproc", "to_regprocedure", "to_regrole", "to_regtype", "to_regtypemod",
    "pg_column_compression", "pg_column_size", "pg_column_toast_chunk_id", "pg_database_size",
    "pg_filenode_relation", "pg_indexes_size", "pg_partition_ancestors", "pg_partition_root",
    "pg_partition_tree", "pg_relation_filenode", "pg_relation_filepath", "pg_relation_size",
    "pg_size_bytes", "pg_size_pretty", "pg_table_size", "pg_tablespace_size",
    "pg_total_relation_size",
    "pg_current_snapshot", "pg_current_xact_id_if_assigned", "pg_last_committed_xact",
    "pg_snapshot_xip", "pg_snapshot_xmax", "pg_snapshot_xmin", "pg_visible_in_snapshot",
    "pg_xact_commit_timestamp", "pg_xact_commit_timestamp_origin", "pg_xact_status",
    "pg_control_checkpoint", "pg_control_init", "pg_control_recovery", "pg_control_system",
    "pg_current_wal_flush_lsn", "pg_current_wal_insert_lsn", "pg_current_wal_lsn",
    "pg_get_wal_replay_pause_state", "pg_is_in_recovery", "pg_is_wal_replay_paused",
    "pg_last_wal_receive_lsn", "pg_last_wal_replay_lsn", "pg_last_xact_replay_timestamp",
    "pg_wal_lsn_diff", "pg_walfile_name", "pg_walfile_name_offset",
    "pg_available_extension_versions", "pg_available_extensions", "pg_get_backend_memory_contexts",
    "pg_get_replication_slots", "pg_get_shmem_allocations", "pg_lock_status", "pg_sequence_last_value",
    "pg_sequence_parameters", "pg_show_all_settings", "pg_stat_statements", "pg_stat_statements_info",
    "pg_listening_channels", "pg_notification_queue_usage",
})
_PG_TRUSTED_EXTENSION_FUNCTIONS = frozenset({
    # pg_trgm, fuzzystrmatch, unaccent, uuid-ossp, pgcrypto: pure functions of their arguments
    "similarity", "word_similarity", "strict_word_similarity", "show_trgm", "levenshtein",
    "levenshtein_less_equal", "soundex", "difference", "metaphone", "dmetaphone", "dmetaphone_alt",
    "unaccent", "uuid_generate_v1", "uuid_generate_v1mc", "uuid_generate_v3", "uuid_generate_v4",
    "uuid_generate_v5", "digest", "hmac", "crypt", "gen_salt", "gen_random_bytes", "armor", "dearmor",
})

PG_ALLOWED_FUNCTIONS: frozenset[str] = (
    _PG_AGGREGATES | _PG_WINDOW_FUNCTIONS | _PG_MATH | _PG_STRINGS | _PG_DATE_TIME | _PG_JSON
    | _PG_ARRAYS_AND_SETS | _PG_RANGES | _PG_TEXT_SEARCH | _PG_NETWORK_UUID_GEOMETRY
    | _PG_TYPE_CONVERSIONS | _PG_SESSION_AND_CATALOG_INFO | _PG_TRUSTED_EXTENSION_FUNCTIONS
)
"""Functions outside SQL may call on PostgreSQL outside scratch mode (unqualified or pg_catalog.)."""

PG_ALLOWED_FUNCTION_PREFIXES: tuple[str, ...] = ("pg_stat_get_",)
"""Families of read-only accessors (the statistics views are built from pg_stat_get_*)."""

_READS_SERVER_FILES = "reads files on the database server"
_RUNS_SQL_TEXT = "runs SQL text that the guard cannot check"

PG_FORBIDDEN_FUNCTIONS: Mapping[str, str] = MappingProxyType({
    "pg_read_file": _READS_SERVER_FILES,
    "pg_read_binary_file": _READS_SERVER_FILES,
    "pg_stat_file": "inspects files on the database server",
    "pg_current_logfile": "reveals the server's log file paths",
    "pg_show_all_file_settings": "reads the server's configuration files",
    "pg_hba_file_rules": "reads the server's pg_hba.conf",
    "pg_ident_file_mappings": "reads the server's pg_ident.conf",
    "loread": "reads a large object",
    "lowrite": "writes a large object",
    "pg_terminate_backend": "terminates another session",
    "pg_cancel_backend": "cancels another session's query",
    "pg_reload_conf": "makes the server reload its configuration",
    "pg_rotate_logfile": "makes the server rotate its log file",
    "pg_log_backend_memory_contexts": "writes another session's memory contexts to the server log",
    "set_config": "changes a setting, which could lift the guard's timeouts or read-only mode",
    "pg_notify": "sends a notification to other sessions",
    "query_to_xml": _RUNS_SQL_TEXT,
    "query_to_xmlschema": _RUNS_SQL_TEXT,
    "query_to_xml_and_xmlschema": _RUNS_SQL_TEXT,
    "cursor_to_xml": "reads from a cursor the guard did not open",
    "cursor_to_xmlschema": "reads from a cursor the guard did not open",
    "table_to_xml": "dumps a whole table through an internal query",
    "table_to_xmlschema": "dumps a whole table through an internal query",
    "table_to_xml_and_xmlschema": "dumps a whole table through an internal query",
    "schema_to_xml": "dumps a whole schema through internal queries",
    "schema_to_xmlschema": "dumps a whole schema through internal queries",
    "schema_to_xml_and_xmlschema": "dumps a whole schema through internal queries",
    "database_to_xml": "dumps the whole database through internal queries",
    "database_to_xmlschema": "dumps the whole database through internal queries",
    "database_to_xml_and_xmlschema": "dumps the whole database through internal queries",
    "ts_stat": _RUNS_SQL_TEXT,
    "ts_rewrite": _RUNS_SQL_TEXT,
    "pg_logical_emit_message": "writes a message into the write-ahead log",
    "pg_switch_wal": "forces a write-ahead log switch",
    "pg_promote": "promotes a standby server",
    "pg_backup_start": "starts a server backup",
    "pg_backup_stop": "stops a server backup",
    "pg_start_backup": "starts a server backup",
    "pg_stop_backup": "stops a server backup",
    "pg_wal_replay_pause": "pauses recovery",
    "pg_wal_replay_resume": "resumes recovery",
    "pg_import_system_collations": "creates collations",
    "pg_extension_config_dump": "changes an extension's dump configuration",
    "pg_prewarm": "loads relations into shared memory",
    "pg_stat_statements_reset": "resets query statistics",
    "pg_drop_replication_slot": "drops a replication slot",
    "pg_replication_slot_advance": "moves a replication slot",
    "pg_copy_logical_replication_slot": "creates a replication slot",
    "pg_copy_physical_replication_slot": "creates a replication slot",
})
"""Functions refused in every mode, with the reason given to the caller."""

PG_FORBIDDEN_FUNCTION_PREFIXES: tuple[tuple[str, str], ...] = (
    ("pg_read_", _READS_SERVER_FILES),
    ("pg_ls_", "lists directories on the database server"),
    ("pg_file_", "writes files on the database server"),
    ("lo_", "reads or writes large objects (lo_import and lo_export touch server files)"),
    ("dblink", "opens a connection to another database, outside the guarded transaction"),
    ("pg_advisory", "takes or releases an advisory lock"),
    ("pg_try_advisory", "takes an advisory lock"),
    ("pg_sleep", "sleeps, holding a connection"),
    ("pg_create_", "creates server-level objects (restore points, replication slots)"),
    ("pg_stat_reset", "resets statistics other checks depend on"),
    ("pg_replication_origin", "changes replication state"),
    ("hypopg", "manages hypothetical indexes, which dbsage does itself"),
)

PG_STATEFUL_FUNCTIONS: Mapping[str, str] = MappingProxyType({
    "nextval": "advances a sequence, which a rollback does not undo",
    "setval": "sets a sequence, which a rollback does not undo",
    "txid_current": "assigns a transaction id",
    "pg_current_xact_id": "assigns a transaction id",
    "setseed": "changes the session's random seed",
    "pg_export_snapshot": "exports a snapshot to other sessions",
})
"""Functions whose side effects are acceptable only on a scratch database."""

# -- PostgreSQL statements and nodes ---------------------------------------------------------------------

PG_QUERY_NODES: frozenset[str] = frozenset({
    "A_ArrayExpr", "A_Const", "A_Expr", "A_Indices", "A_Indirection", "A_Star", "Alias", "BitString",
    "BoolExpr", "Boolean", "BooleanTest", "CTECycleClause", "CTESearchClause", "CaseExpr", "CaseWhen",
    "CoalesceExpr", "CollateClause", "ColumnRef", "CommonTableExpr", "DefElem", "ExplainStmt", "Float",
    "FuncCall", "GroupingFunc", "GroupingSet", "Integer", "JoinExpr", "JsonAggConstructor",
    "JsonArgument", "JsonArrayAgg", "JsonArrayConstructor", "JsonArrayQueryConstructor",
    "JsonBehavior", "JsonFormat", "JsonFuncExpr", "JsonIsPredicate", "JsonKeyValue", "JsonObjectAgg",
    "JsonObjectConstructor", "JsonOutput", "JsonParseExpr", "JsonReturning", "JsonScalarExpr",
    "JsonSerializeExpr", "JsonTable", "JsonTableColumn", "JsonTablePathSpec", "JsonValueExpr",
    "MinMaxExpr", "NamedArgExpr", "NullTest", "RangeFunction", "RangeSubselect", "RangeTableFunc",
    "RangeTableFuncCol", "RangeTableSample", "RangeVar", "ResTarget", "RowExpr", "SQLValueFunction",
    "SelectStmt", "SortBy", "String", "SubLink", "TypeCast", "TypeName", "WindowDef", "WithClause",
    "ColumnDef",
    "XmlExpr", "XmlSerialize",
})
"""Parse-tree node types a read-only statement may contain; anything else is refused ('node_not_allowed')."""

PG_WRITE_NODES: frozenset[str] = frozenset({
    "DeleteStmt", "IndexElem", "InferClause", "InsertStmt", "MergeStmt", "MergeSupportFunc",
    "MergeWhenClause", "MultiAssignRef", "OnConflictClause", "ReturningClause", "ReturningOption",
    "SetToDefault", "UpdateStmt",
})
"""Node types a data-changing statement adds (rollback_write and scratch, or under a plain EXPLAIN)."""

_PG_DML = ("InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt")
_PG_NESTABLE_STATEMENTS = ("SelectStmt", *_PG_DML, "ExplainStmt", "ReturnStmt")

PG_SCRATCH_STATEMENTS: frozenset[str] = frozenset({
    "AlterDefaultPrivilegesStmt", "AlterDomainStmt", "AlterEnumStmt", "AlterFunctionStmt",
    "AlterObjectSchemaStmt", "AlterOwnerStmt", "AlterPolicyStmt", "AlterSeqStmt", "AlterStatsStmt",
    "AlterTableStmt", "AlterTypeStmt", "ClusterStmt", "CommentStmt", "CompositeTypeStmt",
    "ConstraintsSetStmt", "CreateDomainStmt", "CreateEnumStmt", "CreateExtensionStmt",
    "CreateFunctionStmt", "CreatePolicyStmt", "CreateRangeStmt", "CreateSchemaStmt", "CreateSeqStmt",
    "CreateStatsStmt", "CreateStmt", "CreateTableAsStmt", "CreateTrigStmt", "DefineStmt", "DropStmt",
    "GrantStmt", "IndexStmt", "LockStmt", "RefreshMatViewStmt", "ReindexStmt", "RenameStmt",
    "RuleStmt", "TruncateStmt", "VariableSetStmt", "ViewStmt",
})
"""Statements a scratch database accepts besides queries and writes: DDL that stays inside the database."""

PG_SCRATCH_EXTENSIONS: frozenset[str] = frozenset({
    "btree_gin", "btree_gist", "citext", "cube", "earthdistance", "fuzzystrmatch", "hstore",
    "hypopg", "intarray", "isn", "lo", "ltree", "pg_stat_statements", "pg_trgm", "pgcrypto",
    "postgis", "seg", "tablefunc", "tsm_system_rows", "tsm_system_time", "unaccent", "uuid-ossp",
    "vector",
})
"""Extensions CREATE EXTENSION may install on a scratch database (none of them reaches outside it)."""

PG_SCRATCH_LANGUAGES: frozenset[str] = frozenset({"sql", "plpgsql"})
"""Languages of functions a scratch database may create; untrusted languages run code on the server."""

PG_GUARD_SETTINGS: frozenset[str] = frozenset({
    "default_transaction_read_only", "idle_in_transaction_session_timeout", "lock_timeout", "role",
    "session_authorization", "standard_conforming_strings", "statement_timeout",
    "transaction_read_only", "transaction_timeout",
})
"""Settings the guard itself relies on; SET/RESET of them is refused even on a scratch database."""

_PG_REFUSED_STATEMENTS: Mapping[str, str] = MappingProxyType({
    "CopyStmt": "COPY moves data between a table and a server file, a program or the copy protocol",
    "DoStmt": "DO runs an anonymous code block the guard cannot check",
    "CallStmt": "CALL runs a procedure, which may commit on its own",
    "PrepareStmt": "PREPARE keeps a statement for later, outside the guard",
    "ExecuteStmt": "EXECUTE runs a prepared statement the guard did not check",
    "DeallocateStmt": "DEALLOCATE changes session state",
    "VariableSetStmt": "SET/RESET changes settings, including the guard's own",
    "VariableShowStmt": "SHOW is not a query; use SELECT current_setting('name')",
    "LockStmt": "LOCK takes table locks",
    "ListenStmt": "LISTEN subscribes to notifications",
    "UnlistenStmt": "UNLISTEN changes session state",
    "NotifyStmt": "NOTIFY sends a notification to other sessions",
    "VacuumStmt": "VACUUM/ANALYZE is maintenance, not a query",
    "CheckPointStmt": "CHECKPOINT is server maintenance",
    "LoadStmt": "LOAD loads a shared library into the server",
    "DiscardStmt": "DISCARD resets session state",
    "AlterSystemStmt": "ALTER SYSTEM rewrites the server configuration",
    "DeclareCursorStmt": "DECLARE opens a cursor outside the guard",
    "FetchStmt": "FETCH reads a cursor the guard did not open",
    "ClosePortalStmt": "CLOSE closes a cursor the guard did not open",
    "CreateRoleStmt": "roles are shared by every database on the server",
    "AlterRoleStmt": "roles are shared by every database on the server",
    "AlterRoleSetStmt": "roles are shared by every database on the server",
    "DropRoleStmt": "roles are shared by every database on the server",
    "GrantRoleStmt": "roles are shared by every database on the server",
    "CreatedbStmt": "databases are server-level objects",
    "DropdbStmt": "databases are server-level objects",
    "AlterDatabaseStmt": "databases are server-level objects",
    "AlterDatabaseSetStmt": "databases are server-level objects",
    "CreateTableSpaceStmt": "tablespaces are server-level objects",
    "DropTableSpaceStmt": "tablespaces are server-level objects",
    "CreateFdwStmt": "foreign data wrappers reach outside the database",
    "CreateForeignServerStmt": "foreign servers reach outside the database",
    "CreateForeignTableStmt": "foreign tables reach outside the database",
    "CreateUserMappingStmt": "user mappings hold credentials for other servers",
    "ImportForeignSchemaStmt": "foreign tables reach outside the database",
    "CreatePLangStmt": "procedural languages run code on the server",
    "CreateEventTrigStmt": "event triggers run on every DDL statement",
    "CreateSubscriptionStmt": "subscriptions connect to other servers",
    "CreatePublicationStmt": "publications change replication",
})

# -- MySQL / MariaDB functions ----------------------------------------------------------------------------

MYSQL_ALLOWED_FUNCTIONS: frozenset[str] = frozenset({
    # strings
    "ascii", "bin", "bit_length", "char", "char_length", "character_length", "charset", "chr",
    "coercibility", "collation", "concat", "concat_ws", "elt", "export_set", "field", "find_in_set",
    "format", "from_base64", "hex", "insert", "instr", "lcase", "left", "length", "lengthb", "locate",
    "lower", "lpad", "ltrim", "make_set", "match", "mid", "natural_sort_key", "oct", "octet_length",
    "ord", "position", "quote", "regexp_instr", "regexp_like", "regexp_replace", "regexp_substr",
    "repeat", "replace", "reverse", "right", "rpad", "rtrim", "sformat", "soundex", "space", "strcmp",
    "substr", "substring", "substring_index", "to_base64", "trim", "ucase", "unhex", "upper",
    "weight_string",
    # numbers
    "abs", "acos", "asin", "atan", "atan2", "bit_count", "ceil", "ceiling", "conv", "cos", "cot",
    "crc32", "crc32c", "degrees", "exp", "floor", "ln", "log", "log10", "log2", "mod", "pi", "pow",
    "power", "radians", "rand", "round", "sign", "sin", "sqrt", "tan", "truncate",
    # dates and times
    "add_months", "adddate", "addtime", "convert_tz", "curdate", "current_date", "current_time",
    "current_timestamp", "curtime", "date", "date_add", "date_format", "date_sub", "datediff", "day",
    "dayname", "dayofmonth", "dayofweek", "dayofyear", "extract", "from_days", "from_unixtime",
    "get_format", "hour", "last_day", "localtime", "localtimestamp", "makedate", "maketime",
    "microsecond", "minute", "month", "monthname", "now", "period_add", "period_diff", "quarter",
    "sec_to_time", "second", "str_to_date", "subdate", "subtime", "sysdate", "time", "time_format",
    "time_to_sec", "timediff", "timestamp", "timestampadd", "timestampdiff", "to_char", "to_days",
    "to_seconds", "unix_timestamp", "utc_date", "utc_time", "utc_timestamp", "week", "weekday",
    "weekofyear", "year", "yearweek",
    # aggregates and window functions
    "any_value", "avg", "bit_and", "bit_or", "bit_xor", "count", "cume_dist", "dense_rank",
    "first_value", "group_concat", "grouping", "json_arrayagg", "json_objectagg", "lag",
    "last_value", "lead", "max", "median", "min", "nth_value", "ntile", "percent_rank",
    "percentile_cont", "percentile_disc", "rank", "row_number", "std", "stddev", "stddev_pop",
    "stddev_samp", "sum", "var_pop", "var_samp", "variance",
    # JSON
    "json_array", "json_array_append", "json_array_insert", "json_array_intersect", "json_compact",
    "json_contains", "json_contains_path", "json_depth", "json_detailed", "json_equals", "json_exists",
    "json_extract", "json_insert", "json_key_value", "json_keys", "json_length", "json_loose",
    "json_merge", "json_merge_patch", "json_merge_preserve", "json_normalize", "json_object",
    "json_object_filter_keys", "json_object_to_array", "json_overlaps", "json_pretty", "json_query",
    "json_quote", "json_remove", "json_replace", "json_schema_valid", "json_schema_validation_report",
    "json_search", "json_set", "json_storage_free", "json_storage_size", "json_table", "json_type",
    "json_unquote", "json_valid", "json_value",
    # flow control, comparison, casts
    "cast", "coalesce", "convert", "decode_oracle", "exists", "greatest", "if", "ifnull", "interval",
    "isnull", "least", "nullif", "nvl", "nvl2",
    # hashing and encoding (pure)
    "aes_decrypt", "aes_encrypt", "compress", "md5", "random_bytes", "sha", "sha1", "sha2",
    "statement_digest", "statement_digest_text", "uncompress", "uncompressed_length",
    # identifiers, network, UUIDs
    "bin_to_uuid", "inet6_aton", "inet6_ntoa", "inet_aton", "inet_ntoa", "is_ipv4", "is_ipv4_compat",
    "is_ipv4_mapped", "is_ipv6", "is_uuid", "sys_guid", "uuid", "uuid_short", "uuid_to_bin",
    # information about the session (read-only)
    "connection_id", "current_role", "current_user", "database", "found_rows", "icu_version",
    "last_insert_id", "row_count", "schema", "session_user", "system_user", "user", "version",
    "format_bytes", "format_pico_time", "ps_current_thread_id", "ps_thread_id",
    # geometry constructors (ST_* functions are matched by prefix)
    "geometrycollection", "linestring", "multilinestring", "multipoint", "multipolygon", "point",
    "polygon",
    # row constructors used by INSERT ... ON DUPLICATE KEY UPDATE and VALUES
    "row", "values",
})
"""Built-in MySQL/MariaDB functions outside SQL may call outside scratch mode (compared lower-case)."""

MYSQL_ALLOWED_FUNCTION_PREFIXES: tuple[str, ...] = ("st_", "mbr")
"""Spatial function families: pure functions of their arguments."""

MYSQL_FORBIDDEN_FUNCTIONS: Mapping[str, str] = MappingProxyType({
    "load_file": _READS_SERVER_FILES,
    "sleep": "sleeps, holding a connection",
    "benchmark": "burns server CPU on purpose",
    "get_lock": "takes a named lock that outlives the transaction",
    "release_lock": "releases a named lock",
    "release_all_locks": "releases named locks",
    "is_free_lock": "probes named locks held by other sessions",
    "is_used_lock": "probes named locks held by other sessions",
    "master_pos_wait": "waits on replication",
    "source_pos_wait": "waits on replication",
    "master_gtid_wait": "waits on replication",
    "wait_for_executed_gtid_set": "waits on replication",
    "wait_until_sql_thread_after_gtids": "waits on replication",
    "nextval": "advances a sequence, which a rollback does not undo",
    "setval": "sets a sequence, which a rollback does not undo",
    "lastval": "reads session sequence state",
    "sys_exec": "is a user-defined function that runs shell commands",
    "sys_eval": "is a user-defined function that runs shell commands",
    "sys_bineval": "is a user-defined function that runs machine code",
    "sys_get": "is a user-defined function that reads the server's environment",
    "sys_set": "is a user-defined function that changes the server's environment",
})
"""MySQL/MariaDB functions refused in every mode, with the reason given to the caller."""

MYSQL_FORBIDDEN_FUNCTION_PREFIXES: tuple[tuple[str, str], ...] = (
    ("lib_mysqludf", "belongs to a user-defined function library that reaches outside the database"),
)

MYSQL_UTILITY_STATEMENTS: Mapping[str, str] = MappingProxyType({
    "BACKUP": "it copies server files",
    "BINLOG": "it replays binary log events",
    "CACHE": "it loads indexes into a key cache",
    "CALL": "it runs a stored procedure, which may commit and do anything",
    "CHANGE": "it changes replication",
    "CHECK": "it is table maintenance",
    "CHECKSUM": "it is table maintenance",
    "DEALLOCATE": "it changes session state",
    "DO": "it evaluates expressions for their side effects",
    "EXECUTE": "it runs a prepared statement the guard did not check",
    "FLUSH": "it flushes server caches, logs or privileges",
    "GRANT": "privileges are server-level",
    "HANDLER": "it reads tables outside the SQL layer and keeps them open",
    "INSTALL": "it loads plugins into the server",
    "KILL": "it ends other sessions",
    "LOAD": "it reads files into tables",
    "LOCK": "it takes table locks, which commit the transaction",
    "OPTIMIZE": "it rebuilds tables",
    "PREPARE": "it keeps a statement for later, outside the guard",
    "PURGE": "it deletes binary logs",
    "RENAME": "it renames tables or users, and commits the transaction",
    "REPAIR": "it is table maintenance",
    "RESET": "it resets server state",
    "RESIGNAL": "it raises conditions",
    "REVOKE": "privileges are server-level",
    "SET": "it changes settings or variables, including the guard's own timeouts",
    "SHUTDOWN": "it stops the server",
    "SIGNAL": "it raises conditions",
    "START": "it starts a transaction or replication",
    "STOP": "it stops replication",
    "UNINSTALL": "it unloads plugins",
    "UNLOCK": "it releases table locks",
    "USE": "it switches databases",
})
"""Leading keywords of MySQL/MariaDB utility statements, refused in every mode."""

SQLITE_UTILITY_STATEMENTS: Mapping[str, str] = MappingProxyType({
    "ATTACH": "it opens another database file",
    "DETACH": "it changes which database files are open",
    "VACUUM": "it rewrites the database file (VACUUM INTO writes a new one)",
    "REINDEX": "it rebuilds indexes",
    "ANALYZE": "it writes statistics tables",
})
"""Leading keywords of SQLite utility statements, refused in every mode."""

# -- SQLite functions ---------------------------------------------------------------------------------

SQLITE_INTROSPECTION_PRAGMAS: frozenset[str] = frozenset({
    "pragma_collation_list", "pragma_compile_options", "pragma_database_list",
    "pragma_foreign_key_list", "pragma_function_list", "pragma_index_info", "pragma_index_list",
    "pragma_index_xinfo", "pragma_module_list", "pragma_pragma_list", "pragma_table_info",
    "pragma_table_list", "pragma_table_xinfo",
})
"""Table-valued pragma functions that only describe the schema (SQLite offers them only for such pragmas)."""

SQLITE_ALLOWED_FUNCTIONS: frozenset[str] = frozenset({
    # core scalar functions
    "abs", "changes", "char", "coalesce", "concat", "concat_ws", "format", "glob", "hex", "if",
    "ifnull", "iif", "instr", "last_insert_rowid", "length", "like", "likelihood", "likely", "lower",
    "ltrim", "max", "min", "nullif", "octet_length", "printf", "quote", "random", "randomblob",
    "replace", "round", "rtrim", "sign", "soundex", "sqlite_compileoption_get",
    "sqlite_compileoption_used", "sqlite_offset", "sqlite_source_id", "sqlite_version", "substr",
    "substring", "total_changes", "trim", "typeof", "unhex", "unicode", "unistr", "unlikely", "upper",
    "zeroblob", "cast", "exists",
    # aggregates and window functions
    "avg", "count", "group_concat", "string_agg", "sum", "total", "cume_dist", "dense_rank",
    "first_value", "lag", "last_value", "lead", "nth_value", "ntile", "percent_rank", "rank",
    "row_number", "median", "percentile", "percentile_cont", "percentile_disc",
    # dates and times
    "date", "datetime", "julianday", "strftime", "time", "timediff", "unixepoch",
    # math (SQLITE_ENABLE_MATH_FUNCTIONS)
    "acos", "acosh", "asin", "asinh", "atan", "atan2", "atanh", "ceil", "ceiling", "cos", "cosh",
    "degrees", "exp", "floor", "ln", "log", "log10", "log2", "mod", "pi", "pow", "power", "radians",
    "sin", "sinh", "sqrt", "tan", "tanh", "trunc",
    # JSON
    "json", "json_array", "json_array_length", "json_each", "json_error_position", "json_extract",
    "json_group_array", "json_group_object", "json_insert", "json_object", "json_patch",
    "json_pretty", "json_quote", "json_remove", "json_replace", "json_set", "json_tree", "json_type",
    "json_valid", "jsonb", "jsonb_array", "jsonb_each", "jsonb_extract", "jsonb_group_array",
    "jsonb_group_object", "jsonb_insert", "jsonb_object", "jsonb_patch", "jsonb_remove",
    "jsonb_replace", "jsonb_set", "jsonb_tree",
    # full-text search auxiliary functions, generate_series
    "bm25", "highlight", "match", "matchinfo", "offsets", "snippet", "generate_series",
}) | SQLITE_INTROSPECTION_PRAGMAS
"""SQLite functions outside SQL may call outside scratch mode (compared lower-case)."""

SQLITE_FORBIDDEN_FUNCTIONS: Mapping[str, str] = MappingProxyType({
    "load_extension": "loads native code into the database process",
    "readfile": "reads files on the machine running dbsage",
    "writefile": "writes files on the machine running dbsage",
    "edit": "starts an editor on the machine running dbsage",
    "fts3_tokenizer": "can register a native tokenizer by pointer",
    "fsdir": "lists directories on the machine running dbsage",
    "zipfile": "reads or writes zip archives on disk",
    "sqlar_compress": "belongs to the archive extension that writes files",
    "sqlar_uncompress": "belongs to the archive extension that writes files",
    "eval": _RUNS_SQL_TEXT,
})
"""SQLite functions refused in every mode (most exist only when an extension is loaded)."""

SQLITE_SCRATCH_PRAGMAS: frozenset[str] = frozenset({
    "foreign_keys", "defer_foreign_keys", "recursive_triggers", "user_version", "application_id",
})
"""PRAGMAs a scratch SQLite database accepts (those a migration script sets); all others are refused."""

_NO_STATEFUL: Mapping[str, str] = MappingProxyType({})
_NO_STATEMENT = "The SQL holds no statement (only comments or semicolons)."

# -- entry point ----------------------------------------------------------------------------------------


def check_statement(sql: str, dialect: Dialect, mode: Mode, *, row_cap: int | None = None) -> str:
    """The statement to send for `sql`, regenerated from its checked parse tree.

    Raises InputError for empty or (PostgreSQL) unparsable input and GuardRefused, whose `reason` is a
    short code ('multiple_statements', 'function_forbidden', ...), for anything the mode does not allow.
    With `row_cap`, a top-level query on PostgreSQL or MySQL/MariaDB is limited to row_cap + 1 rows in the
    statement itself, so the driver never buffers more than the guard will return (SQLite streams).
    """
    if not isinstance(sql, str) or not sql.strip():
        raise InputError("The SQL statement is empty.", hint="pass one SELECT statement")
    if len(sql) > MAX_STATEMENT_CHARS:
        _refuse(
            "too_large",
            f"The statement is {len(sql):,} characters long; "
            f"the guard accepts {MAX_STATEMENT_CHARS:,} at most.",
            "send a shorter statement",
        )
    try:
        if dialect is Dialect.POSTGRES:
            return _check_postgres(sql, mode, row_cap)
        return _check_sqlglot(sql, dialect, mode, row_cap)
    except RecursionError:
        _refuse_too_complex()


def _refuse(reason: str, message: str, hint: str | None = None) -> NoReturn:
    raise GuardRefused(message, reason=reason, hint=hint)


def _refuse_too_complex() -> NoReturn:
    _refuse(
        "too_complex",
        f"The statement nests too deeply for the guard to check (more than {MAX_TREE_DEPTH} levels).",
        "flatten the expression or split the query",
    )


def _refuse_multiple(count: int) -> NoReturn:
    _refuse(
        "multiple_statements",
        f"The input holds {count} statements; the guard runs exactly one at a time.",
        "send each statement in its own call",
    )


def _refuse_transaction_control(what: str) -> NoReturn:
    _refuse(
        "transaction_control",
        f"{what} controls the transaction; the guard owns the transaction and always rolls it back.",
        "send the statement alone, without BEGIN/COMMIT/ROLLBACK/SAVEPOINT",
    )


def _refuse_write(what: str) -> NoReturn:
    _refuse(
        "write_not_allowed",
        f"{what} changes data, and this session is read-only.",
        "use rollback_write mode (the change is rolled back) or a scratch database",
    )


@dataclass(frozen=True)
class _FunctionPolicy:
    """One engine's function lists, as used by the checks below."""

    allowed: frozenset[str]
    allowed_prefixes: tuple[str, ...]
    forbidden: Mapping[str, str]
    forbidden_prefixes: tuple[tuple[str, str], ...]
    stateful: Mapping[str, str]

    def forbidden_reason(self, name: str, mode: Mode) -> str | None:
        """Why `name` is never run in `mode` (None when it is not on a denylist)."""
        key = name.lower()
        reason = self.forbidden.get(key)
        if reason is None:
            reason = next((why for prefix, why in self.forbidden_prefixes if key.startswith(prefix)), None)
        if reason is None and mode is not Mode.SCRATCH:
            reason = self.stateful.get(key)
        return reason

    def is_allowed(self, name: str) -> bool:
        # Exact match: on PostgreSQL a quoted mixed-case name is a different, user-defined function.
        return name in self.allowed or (name.islower() and name.startswith(self.allowed_prefixes))

    def check(self, name: str, mode: Mode) -> None:
        """Refuse a call of function `name` (without schema) unless `mode` allows it."""
        reason = self.forbidden_reason(name, mode)
        if reason is not None:
            _refuse(
                "function_forbidden",
                f"{name}() {reason}; the guard never runs it.",
                "remove the call; dbsage runs only side-effect-free functions on a live database",
            )
        if mode is not Mode.SCRATCH and not self.is_allowed(name):
            _refuse(
                "function_not_allowed",
                f"{name}() is not on the guard's list of side-effect-free functions.",
                "use built-in functions only; user-defined functions can do anything, so they are refused",
            )


_PG_POLICY = _FunctionPolicy(
    PG_ALLOWED_FUNCTIONS,
    PG_ALLOWED_FUNCTION_PREFIXES,
    PG_FORBIDDEN_FUNCTIONS,
    PG_FORBIDDEN_FUNCTION_PREFIXES,
    PG_STATEFUL_FUNCTIONS,
)
_MYSQL_POLICY = _FunctionPolicy(
    MYSQL_ALLOWED_FUNCTIONS,
    MYSQL_ALLOWED_FUNCTION_PREFIXES,
    MYSQL_FORBIDDEN_FUNCTIONS,
    MYSQL_FORBIDDEN_FUNCTION_PREFIXES,
    _NO_STATEFUL,
)
_SQLITE_POLICY = _FunctionPolicy(SQLITE_ALLOWED_FUNCTIONS, (), SQLITE_FORBIDDEN_FUNCTIONS, (), _NO_STATEFUL)

# -- PostgreSQL ------------------------------------------------------------------------------------------


def _check_postgres(sql: str, mode: Mode, row_cap: int | None) -> str:
    stmt = _parse_postgres(sql)
    _check_pg_statement(stmt, mode)
    if row_cap is not None:
        _cap_pg_rows(stmt, row_cap)
    text = _deparse_postgres(stmt)
    # What is sent must be what was checked: parse the generated text again and check it again.
    _check_pg_statement(_parse_postgres(text), mode)
    return text


def _parse_postgres(sql: str) -> Any:
    try:
        raw = pglast.parse_sql(sql)
    except pglast.parser.ParseError as exc:
        text = str(exc)
        if "memory exhausted" in text or "stack depth" in text:
            _refuse_too_complex()
        raise InputError(f"The statement does not parse as PostgreSQL: {text}.") from None
    if not raw:
        raise InputError(_NO_STATEMENT, hint="pass one statement")
    if len(raw) > 1:
        _refuse_multiple(len(raw))
    return raw[0].stmt


def _deparse_postgres(stmt: Any) -> str:
    try:
        return str(RawStream()(stmt))
    except RecursionError:
        _refuse_too_complex()


def _pg_name(node: Any) -> str:
    return type(node).__name__


_PG_LABELS: Mapping[str, str] = MappingProxyType({
    "CreateStmt": "CREATE TABLE",
    "CreateTableAsStmt": "CREATE TABLE AS",
    "IndexStmt": "CREATE INDEX",
    "ViewStmt": "CREATE VIEW",
    "AlterTableStmt": "ALTER TABLE",
    "CreatedbStmt": "CREATE DATABASE",
    "DropdbStmt": "DROP DATABASE",
    "VariableSetStmt": "SET",
    "VariableShowStmt": "SHOW",
    "DeclareCursorStmt": "DECLARE CURSOR",
    "CreateFunctionStmt": "CREATE FUNCTION",
    "CreateTrigStmt": "CREATE TRIGGER",
    "RuleStmt": "CREATE RULE",
    "DefineStmt": "CREATE (aggregate, operator or type)",
})


def _pg_statement_label(stmt: Any) -> str:
    name = _pg_name(stmt)
    if name in _PG_LABELS:
        return _PG_LABELS[name]
    return re.sub(r"(?<!^)(?=[A-Z])", " ", name.removesuffix("Stmt")).upper() or name


def _pg_explain_analyzes(stmt: Any) -> bool:
    for option in stmt.options or ():
        if option.defname != "analyze":
            continue
        arg = option.arg
        if arg is None:
            return True
        value = getattr(arg, "sval", getattr(arg, "ival", getattr(arg, "boolval", None)))
        return str(value).lower() not in ("false", "off", "0", "no")
    return False


def _check_pg_statement(stmt: Any, mode: Mode) -> None:
    """Check the statement type for the mode, then every node of the tree."""
    name = _pg_name(stmt)
    writes_allowed = mode is not Mode.READ_ONLY
    if name == "TransactionStmt":
        _refuse_transaction_control(_pg_transaction_label(stmt))
    if name == "ExplainStmt":
        inner = stmt.query
        inner_name = _pg_name(inner)
        if inner_name in _PG_DML:
            if _pg_explain_analyzes(stmt) and mode is Mode.READ_ONLY:
                _refuse(
                    "explain_analyze_write",
                    f"EXPLAIN ANALYZE runs the {_pg_statement_label(inner)} it explains; "
                    "this session is read-only.",
                    "use rollback_write mode (the change is rolled back), or EXPLAIN without ANALYZE",
                )
            writes_allowed = True  # a plain EXPLAIN plans the write without running it
        elif inner_name != "SelectStmt":
            _refuse(
                "statement_not_allowed",
                f"EXPLAIN of {_pg_statement_label(inner)} is refused: the guard explains queries and writes.",
            )
    elif name in _PG_DML:
        if mode is Mode.READ_ONLY:
            _refuse_write(_pg_statement_label(stmt))
    elif name != "SelectStmt":
        _check_pg_other_statement(stmt, mode)
    _walk_pg_tree(stmt, mode, writes_allowed)


def _pg_transaction_label(stmt: Any) -> str:
    kind = getattr(stmt.kind, "name", str(stmt.kind)).removeprefix("TRANS_STMT_")
    return kind.replace("_", " ")


def _check_pg_other_statement(stmt: Any, mode: Mode) -> None:
    """DDL and utility statements: only some, only on a scratch database."""
    name = _pg_name(stmt)
    label = _pg_statement_label(stmt)
    if name == "CopyStmt":
        _refuse_copy(stmt)
    if name in _PG_REFUSED_STATEMENTS and not (mode is Mode.SCRATCH and name in PG_SCRATCH_STATEMENTS):
        _refuse("statement_not_allowed", f"{label} is refused: {_PG_REFUSED_STATEMENTS[name]}.")
    if mode is not Mode.SCRATCH:
        _refuse(
            "ddl_not_allowed" if name in PG_SCRATCH_STATEMENTS else "statement_not_allowed",
            f"{label} is not allowed in {mode.value} mode; outside SQL may only query"
            + (" and change rows." if mode is Mode.ROLLBACK_WRITE else "."),
            "schema changes run only on a scratch database" if name in PG_SCRATCH_STATEMENTS else None,
        )
    if name not in PG_SCRATCH_STATEMENTS:
        _refuse("statement_not_allowed", f"{label} is not allowed even on a scratch database.")


def _refuse_copy(stmt: Any) -> NoReturn:
    if stmt.is_program:
        why = "COPY ... PROGRAM runs a shell command on the database server"
    elif stmt.filename:
        why = "COPY with a file name reads or writes a file on the database server"
    else:
        why = "COPY to/from STDIN/STDOUT needs the copy protocol, which the guard does not speak"
    _refuse("copy_not_allowed", f"{why}; refused.", "use SELECT to read rows, INSERT to write them")


def _pg_children(node: Any) -> Iterator[Any]:
    for slot in _pg_slot_names(type(node)):
        yield from _pg_flatten(getattr(node, slot, None))


def _pg_flatten(value: Any) -> Iterator[Any]:
    if isinstance(value, pg.Node):
        yield value
    elif isinstance(value, (tuple, list)):
        stack = [iter(value)]
        while stack:
            item = next(stack[-1], _EXHAUSTED)
            if item is _EXHAUSTED:
                stack.pop()
            elif isinstance(item, pg.Node):
                yield item
            elif isinstance(item, (tuple, list)):
                stack.append(iter(item))


_EXHAUSTED = object()


def _pg_slot_names(cls: type) -> tuple[str, ...]:
    cached = _SLOT_NAMES.get(cls)
    if cached is not None:
        return cached
    names: list[str] = []
    for klass in cls.__mro__:
        for slot in getattr(klass, "__slots__", ()):
            if slot not in names:
                names.append(slot)
    _SLOT_NAMES[cls] = tuple(names)
    return _SLOT_NAMES[cls]


_SLOT_NAMES: dict[type, tuple[str, ...]] = {}


def _walk_pg_tree(root: Any, mode: Mode, writes_allowed: bool) -> None:
    allowed_nodes = PG_QUERY_NODES | PG_WRITE_NODES if writes_allowed else PG_QUERY_NODES
    # Specific refusals (a forbidden function, a writable CTE) name the problem better than an
    # unexpected node type does, so the first unexpected node is reported only after the whole walk.
    unexpected: Any = None
    stack: list[tuple[Any, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_TREE_DEPTH:
            _refuse_too_complex()
        name = _pg_name(node)
        _check_pg_node(node, name, mode, root)
        if mode is not Mode.SCRATCH and name not in allowed_nodes and unexpected is None:
            unexpected = node
        stack.extend((child, depth + 1) for child in _pg_children(node))
    if unexpected is not None:
        name = _pg_name(unexpected)
        if name in _PG_DML:
            _refuse_write(_pg_statement_label(unexpected))
        _refuse(
            "node_not_allowed",
            f"{_pg_node_label(name)} is not allowed in {mode.value} mode.",
            "send a plain query" if mode is Mode.READ_ONLY else None,
        )


def _pg_node_label(name: str) -> str:
    return {
        "ParamRef": "A parameter placeholder ($1)",
        "CurrentOfExpr": "WHERE CURRENT OF (a cursor)",
        "IntoClause": "SELECT INTO",
    }.get(name, f"The construct {name}")


def _check_pg_node(node: Any, name: str, mode: Mode, root: Any) -> None:
    """Checks that apply wherever a node sits in the tree."""
    if name == "FuncCall":
        _check_pg_function(node.funcname, mode)
    elif name == "SelectStmt":
        if node.intoClause is not None and mode is not Mode.SCRATCH:
            _refuse("select_into", "SELECT INTO creates a table.", "drop the INTO clause to read the rows")
        if node.lockingClause and mode is Mode.READ_ONLY:
            _refuse(
                "locking_clause",
                "FOR UPDATE/SHARE locks rows, and this session is read-only.",
                "drop the locking clause",
            )
    elif name == "CommonTableExpr":
        if _pg_name(node.ctequery) in _PG_DML and mode is Mode.READ_ONLY:
            _refuse(
                "writable_cte",
                f"The WITH query {node.ctename!r} is a {_pg_statement_label(node.ctequery)}, "
                "which changes data.",
                "use rollback_write mode, or make every WITH query a SELECT",
            )
    elif name == "ColumnRef" and len(node.fields or ()) > 1:
        _check_pg_attribute_name(node.fields[-1])
    elif name == "A_Indirection":
        for item in node.indirection or ():
            _check_pg_attribute_name(item)
    elif name == "A_Expr":
        _check_pg_operator(node.name)
    elif name == "TransactionStmt":
        _refuse_transaction_control(_pg_transaction_label(node))
    elif name == "CopyStmt":
        _refuse_copy(node)
    elif node is not root and name.endswith("Stmt") and name not in _PG_NESTABLE_STATEMENTS:
        # Statements nested in others, such as CREATE SCHEMA ... CREATE TABLE: each must pass on its own.
        _check_pg_other_statement(node, mode)
    if mode is Mode.SCRATCH:
        _check_pg_scratch_node(node, name)


def _check_pg_function(funcname: Any, mode: Mode) -> None:
    parts = [getattr(p, "sval", "") for p in funcname]
    name = parts[-1]
    reason = _PG_POLICY.forbidden_reason(name, mode)  # the denylist applies whatever the schema
    if reason is None and len(parts) > 1 and mode is not Mode.SCRATCH and parts[:-1] != ["pg_catalog"]:
        _refuse(
            "function_not_allowed",
            f"{'.'.join(parts)}() is a function outside pg_catalog; user-defined functions can do anything.",
            "use built-in functions only",
        )
    _PG_POLICY.check(name, mode)


def _check_pg_attribute_name(item: Any) -> None:
    """`x.func` is PostgreSQL's attribute notation for func(x): refuse it for denylisted names."""
    name = getattr(item, "sval", None)
    if not isinstance(name, str):
        return
    key = name.lower()
    reason = _PG_POLICY.forbidden_reason(key, Mode.SCRATCH)
    if reason is not None:
        _refuse(
            "function_forbidden",
            f"{name} (attribute notation for {name}()) {reason}; the guard never runs it.",
        )


def _check_pg_operator(name: Any) -> None:
    parts = [getattr(p, "sval", "") for p in name or ()]
    if len(parts) > 1 and parts[:-1] != ["pg_catalog"]:
        _refuse(
            "function_not_allowed",
            f"OPERATOR({'.'.join(parts)}) lives outside pg_catalog and runs a user-defined function.",
        )


def _check_pg_scratch_node(node: Any, name: str) -> None:
    """On a scratch database DDL is allowed, but nothing that reaches outside the database."""
    if name == "VariableSetStmt":
        _check_pg_set(node)
    elif name == "CreateExtensionStmt" and node.extname not in PG_SCRATCH_EXTENSIONS:
        _refuse(
            "extension_not_allowed",
            f"Extension {node.extname!r} is not on the scratch list "
            "(some extensions reach outside the database).",
        )
    elif name == "CreateFunctionStmt":
        _check_pg_function_definition(node)


def _check_pg_set(node: Any) -> None:
    kind = getattr(node.kind, "name", str(node.kind))
    if kind == "VAR_SET_MULTI":
        _refuse_transaction_control("SET TRANSACTION")
    if kind == "VAR_RESET_ALL":
        _refuse("setting_not_allowed", "RESET ALL would reset the guard's own timeouts.")
    setting = (node.name or "").lower()
    if setting in PG_GUARD_SETTINGS:
        _refuse("setting_not_allowed", f"{setting} is set by the guard itself and cannot be changed.")
    # A session-level SET would outlive the rolled-back transaction on a pooled connection.
    node.is_local = True


def _check_pg_function_definition(node: Any) -> None:
    options = {opt.defname: opt.arg for opt in node.options or ()}
    language_arg = options.get("language")
    language = getattr(language_arg, "sval", None) or ("sql" if node.sql_body is not None else None)
    if language is None or language.lower() not in PG_SCRATCH_LANGUAGES:
        _refuse(
            "untrusted_language",
            f"Functions in language {language!r} are refused; "
            f"allowed: {', '.join(sorted(PG_SCRATCH_LANGUAGES))}.",
        )
    body = options.get("as")
    texts = [getattr(part, "sval", "") for part in _pg_flatten(body)] if body is not None else []
    for text in texts:
        _check_pg_function_body(text)


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
_CALLED_NAME = re.compile(r"([A-Za-z_][A-Za-z0-9_$]*)\s*\(")


def _check_pg_function_body(text: str) -> None:
    """A body string is opaque to the parser. This is a word-level backstop, not a proof: it refuses
    dynamic SQL (EXECUTE, which could assemble any call) and COPY, and calls of denylisted functions."""
    words = {w.lower() for w in _WORD.findall(text)}
    if "execute" in words or "copy" in words:
        _refuse(
            "dynamic_sql",
            "The function body uses EXECUTE or COPY, which the guard cannot check.",
            "write the statements directly in the body",
        )
    for called in sorted({w.lower() for w in _CALLED_NAME.findall(text)}):
        reason = _PG_POLICY.forbidden_reason(called, Mode.SCRATCH)
        if reason is not None:
            _refuse("function_forbidden", f"The function body calls {called}(), which {reason}.")


def _cap_pg_rows(stmt: Any, row_cap: int) -> None:
    """Limit a top-level query to row_cap + 1 rows so the server stops producing rows nobody reads."""
    if _pg_name(stmt) != "SelectStmt":
        return
    limit = row_cap + 1
    cap = pg.A_Const(isnull=False, val=pg.Integer(ival=limit))
    current = stmt.limitCount
    if current is None or (_pg_name(current) == "A_Const" and current.isnull):
        stmt.limitCount = cap
        if stmt.limitOption != pg_enums.LimitOption.LIMIT_OPTION_WITH_TIES:
            stmt.limitOption = pg_enums.LimitOption.LIMIT_OPTION_COUNT
    elif _pg_name(current) == "A_Const" and _pg_name(current.val) == "Integer":
        current.val.ival = min(current.val.ival, limit)
    else:
        stmt.limitCount = pg.MinMaxExpr(op=pg_enums.MinMaxOp.IS_LEAST, args=(current, cap))


# -- MySQL / MariaDB and SQLite (sqlglot) --------------------------------------------------------------


@dataclass(frozen=True)
class _Explain:
    """An EXPLAIN prefix, rebuilt from fixed words so nothing of the original prefix text is sent."""

    words: tuple[str, ...]
    analyze: bool

    def render(self) -> str:
        return " ".join(self.words)


_TRANSACTION_WORDS = frozenset(
    {"BEGIN", "COMMIT", "ROLLBACK", "START", "END", "SAVEPOINT", "RELEASE", "ABORT", "XA"}
)
_EXPLAIN_FORMATS = frozenset({"JSON", "TREE", "TRADITIONAL"})

# Statement node types that may only be the root (and only in some modes).
_SQLGLOT_QUERY_ROOTS: tuple[type[exp.Expr], ...] = (exp.Select, exp.SetOperation, exp.Subquery, exp.Values)
_SQLGLOT_WRITE_ROOTS: tuple[type[exp.Expr], ...] = (exp.Insert, exp.Update, exp.Delete)
_SQLGLOT_DDL_ROOTS: tuple[type[exp.Expr], ...] = (exp.Create, exp.Drop, exp.Alter, exp.TruncateTable)
_SQLGLOT_TRANSACTION: tuple[type[exp.Expr], ...] = (exp.Transaction, exp.Commit, exp.Rollback)


def _sqlglot_types(*names: str) -> tuple[type[exp.Expr], ...]:
    return tuple(t for t in (getattr(exp, n, None) for n in names) if isinstance(t, type))


# Anything statement-like found below the root is refused: sqlglot accepts more nesting than engines do.
_SQLGLOT_NESTED_STATEMENTS = _sqlglot_types(
    "Insert", "Update", "Delete", "Merge", "Create", "Drop", "Alter", "TruncateTable", "Command", "Set",
    "Use", "Show", "Kill", "Transaction", "Commit", "Rollback", "Pragma", "Attach", "Detach", "Describe",
    "Analyze", "Copy", "LoadData", "Grant", "Revoke", "Cache", "Uncache", "Refresh", "Export",
    "Summarize", "Declare", "Execute", "UserDefinedFunction", "Block", "IfBlock", "WhileBlock", "Put",
    "Get", "Install",
)

SQLGLOT_KNOWN_FUNCTIONS: frozenset[str] = frozenset({
    "And", "Or", "Xor", "Case", "If", "Collate", "Between", "Like", "ILike", "Glob", "RegexpLike",
    "JSONExtract", "JSONExtractScalar", "JSONBExtract", "JSONBExtractScalar", "JSONArrayContains",
    "Interval", "Extract", "Cast", "TryCast", "Convert", "Exists", "Trim", "Substring", "Escape",
    "IsNullValue", "Nullif", "Coalesce", "Greatest", "Least", "Count", "Overlay", "StrPosition",
    "MatchAgainst", "ArrayContains", "DPipe", "Concat", "Not", "Div", "IntDiv", "Mod", "Nvl2",
    "TsOrDsToTimestamp", "TsOrDsToDate", "TsOrDsToDatetime", "TsOrDsToTime",
})
"""sqlglot function classes that are SQL syntax or pure built-ins (operators, CASE, CAST, COALESCE ...).
They pass without a name check; any other class must render as a call of an allowlisted name."""

_SQLGLOT_FORBIDDEN_NODES = _sqlglot_types("NextValueFor", "ReadCSV", "ReadParquet", "ToFile", "Secret")

_CALL_HEAD = re.compile(r"\s*(?P<q>[`\"\[]?)(?P<name>[A-Za-z_][A-Za-z0-9_$]*)(?P=q)?\s*(\(|$)")


def _check_sqlglot(sql: str, dialect: Dialect, mode: Mode, row_cap: int | None) -> str:
    read = "sqlite" if dialect is Dialect.SQLITE else "mysql"
    tokens = _tokenize(sql, read)
    tokens = _single_statement(tokens)
    if not tokens:
        raise InputError(_NO_STATEMENT, hint="pass one statement")
    first = (tokens[0].text.upper().split() or [""])[0]  # an empty string literal has no word
    if first in _TRANSACTION_WORDS:
        _refuse_transaction_control(first)
    _check_tokens(sql, tokens, read)
    explain, body = _explain_prefix(sql, tokens, read)
    tree = _parse_sqlglot(body, read)
    _strip_hints(tree)
    _check_sqlglot_tree(tree, read, mode, explain)
    if row_cap is not None and explain is None and read == "mysql":
        _cap_sqlglot_rows(tree, row_cap)
    text = _generate(tree, read)
    # What is sent must be what was checked: parse the generated text again and check it again.
    again = _parse_sqlglot(text, read)
    _check_sqlglot_tree(again, read, mode, explain)
    if any(tok.comments or tok.token_type.name == "HINT" for tok in _tokenize(text, read)):
        _refuse("comment_in_statement", "The regenerated statement still holds a comment; refused.")
    return f"{explain.render()} {text}" if explain else text


def _check_tokens(sql: str, tokens: list[Any], read: str) -> None:
    """Refusals that need the raw tokens: what sqlglot would drop or cannot parse, with a precise reason."""
    first = (tokens[0].text.upper().split() or [""])[0]  # sqlglot reads some keyword pairs as one token
    utility = (MYSQL_UTILITY_STATEMENTS if read == "mysql" else SQLITE_UTILITY_STATEMENTS).get(first)
    if utility is not None:
        _refuse("statement_not_allowed", f"{first} is refused: {utility}.")
    if read == "mysql":
        for tok in tokens:
            if any(c.startswith(("!", "M!")) for c in tok.comments) and re.search(r"/\*M?!", sql):
                _refuse(
                    "executable_comment",
                    "The statement holds a MySQL executable comment (/*! ... */): the server would run it.",
                    "remove the comment; the guard sends no comments",
                )
        for before, tok, after in zip([None, *tokens[:-1]], tokens, [*tokens[1:], None], strict=True):
            target = after.text.upper() if after is not None else ""
            inserting = before is not None and before.text.upper() in ("INSERT", "REPLACE", "IGNORE")
            if tok.text.upper() == "INTO" and target in ("OUTFILE", "DUMPFILE", "@") and not inserting:
                where = "a user variable" if target == "@" else "a file on the database server"
                _refuse("select_into", f"SELECT ... INTO writes to {where}.", "drop the INTO clause")


def _tokenize(sql: str, read: str) -> list[Any]:
    try:
        return list(SqlglotDialect.get_or_raise(read).tokenize(sql))
    except RecursionError:
        raise
    except Exception as exc:
        _refuse_parse(read, exc)


def _refuse_parse(read: str, exc: BaseException) -> NoReturn:
    first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    first_line = re.sub(r"\x1b\[[0-9;]*m", "", first_line)  # sqlglot underlines with terminal colours
    engine = "MySQL/MariaDB" if read == "mysql" else "SQLite"
    _refuse(
        "parse_failed",
        f"The guard's {engine} parser could not read the statement ({first_line}).",
        "check the syntax, or rewrite the statement with plainer SQL",
    )


def _single_statement(tokens: list[Any]) -> list[Any]:
    """The tokens of the only statement; refuses when semicolons separate more than one."""
    statements: list[list[Any]] = [[]]
    for tok in tokens:
        if tok.token_type.name == "SEMICOLON":
            statements.append([])
        else:
            statements[-1].append(tok)
    non_empty = [s for s in statements if s]
    if len(non_empty) > 1:
        _refuse_multiple(len(non_empty))
    return non_empty[0] if non_empty else []


def _explain_prefix(sql: str, tokens: list[Any], read: str) -> tuple[_Explain | None, str]:
    """Split an EXPLAIN-like prefix off; returns the prefix rebuilt from fixed words and the body text."""
    first = tokens[0].text.upper()
    if first not in (("EXPLAIN",) if read == "sqlite" else ("EXPLAIN", "DESCRIBE", "DESC", "ANALYZE")):
        return None, sql
    # sqlglot reads some keywords as commands that swallow the rest: tokenize the remainder afresh.
    rest = sql[tokens[0].end + 1 :]
    rest_tokens = _tokenize(rest, read)
    words = [t.text.upper() for t in rest_tokens]
    analyze = first == "ANALYZE"
    out = ["ANALYZE"] if analyze else ["EXPLAIN"]
    i = 0
    if read == "sqlite":
        if words[:2] == ["QUERY", "PLAN"]:
            out += ["QUERY", "PLAN"]
            i = 2
    else:
        while i < len(words):
            word = words[i]
            if word == "ANALYZE" and not analyze and i == 0:
                analyze = True
                out.append("ANALYZE")
                i += 1
            elif word in ("EXTENDED", "PARTITIONS") and not analyze:
                out.append(word)
                i += 1
            elif word == "FORMAT" and words[i + 1 : i + 2] == ["="] and words[i + 2 : i + 3] and (
                words[i + 2] in _EXPLAIN_FORMATS
            ):
                out.append(f"FORMAT={words[i + 2]}")
                i += 3
            else:
                break
        if i < len(words) and words[i] in ("TABLE", "FOR"):
            # ANALYZE TABLE is maintenance; EXPLAIN FOR CONNECTION inspects another session.
            shown = " ".join([first, *words[: i + 1]])
            _refuse("statement_not_allowed", f"{shown} ... is not a statement the guard runs.")
    if i >= len(rest_tokens):
        raise InputError(f"{' '.join(out)} needs a statement to explain.")
    return _Explain(tuple(out), analyze=analyze), rest[rest_tokens[i].start :]


def _parse_sqlglot(sql: str, read: str) -> exp.Expr:
    try:
        parsed = [t for t in sqlglot.parse(sql, read=read, error_level=ErrorLevel.RAISE) if t is not None]
    except RecursionError:
        raise
    except Exception as exc:
        _refuse_parse(read, exc)
    if not parsed:
        raise InputError(_NO_STATEMENT, hint="pass one statement")
    if len(parsed) > 1:
        _refuse_multiple(len(parsed))
    return parsed[0]


def _generate(tree: exp.Expr, read: str) -> str:
    try:
        return str(tree.sql(dialect=read, comments=False))
    except RecursionError:
        raise
    except Exception as exc:
        _refuse("parse_failed", f"The guard could not regenerate the statement ({exc}).")


def _strip_hints(tree: exp.Expr) -> None:
    """Optimizer hints are comments to the grammar: dropped, like every other comment (they can also
    override the guard's timeouts, e.g. MAX_EXECUTION_TIME or SET_VAR)."""
    for hint in list(tree.find_all(exp.Hint)):
        hint.pop()


def _sqlglot_label(node: exp.Expr) -> str:
    if isinstance(node, exp.Command):
        return str(node.this).upper()
    key = node.key.upper()
    kind = node.args.get("kind")
    return f"{key} {kind}".upper() if isinstance(kind, str) and kind else key


def _check_sqlglot_tree(tree: exp.Expr, read: str, mode: Mode, explain: _Explain | None) -> None:
    _check_sqlglot_root(tree, read, mode, explain)
    stack: list[tuple[exp.Expr, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_TREE_DEPTH:
            _refuse_too_complex()
        if node is not tree:
            _check_sqlglot_nested(node, mode)
        if isinstance(node, (exp.Func, *_SQLGLOT_FORBIDDEN_NODES)):
            _check_sqlglot_function(node, read, mode)
        for child in node.iter_expressions():
            # sqlglot parses and generates chains of one operator (a OR b OR c ...) without recursing,
            # so a chain counts as one level.
            chained = isinstance(child, exp.Binary) and type(child) is type(node)
            stack.append((child, depth if chained else depth + 1))


def _check_sqlglot_root(tree: exp.Expr, read: str, mode: Mode, explain: _Explain | None) -> None:
    """Check the statement type against the mode."""
    if isinstance(tree, exp.Command):
        _refuse(
            "opaque_statement",
            f"The guard's parser read {_sqlglot_label(tree)} only as opaque text, so it cannot check it.",
            "send a SELECT (or, in rollback_write mode, INSERT/UPDATE/DELETE)",
        )
    if isinstance(tree, _SQLGLOT_TRANSACTION):
        _refuse_transaction_control(_sqlglot_label(tree))
    if isinstance(tree, _SQLGLOT_QUERY_ROOTS):
        return
    if isinstance(tree, _SQLGLOT_WRITE_ROOTS):
        _check_sqlglot_write_root(tree, read, mode, explain)
        return
    if explain is not None:
        _refuse(
            "statement_not_allowed",
            f"{explain.render()} needs a SELECT, INSERT, UPDATE or DELETE, not {_sqlglot_label(tree)}.",
            "to describe a table, query information_schema (or pragma_table_info on SQLite)",
        )
    if isinstance(tree, _SQLGLOT_DDL_ROOTS) and mode is not Mode.SCRATCH:
        _refuse(
            "ddl_not_allowed",
            f"{_sqlglot_label(tree)} changes the schema; outside SQL may only query"
            + (" and change rows." if mode is Mode.ROLLBACK_WRITE else "."),
            "schema changes run only on a scratch database",
        )
    if mode is not Mode.SCRATCH:
        _refuse("statement_not_allowed", _sqlglot_refusal_text(tree))
    _check_sqlglot_scratch_root(tree, read)


def _check_sqlglot_write_root(tree: exp.Expr, read: str, mode: Mode, explain: _Explain | None) -> None:
    if explain is not None and not explain.analyze:
        # A plain EXPLAIN plans the write without running it, but MySQL/MariaDB refuse even that
        # inside a read-only transaction.
        if read == "mysql" and mode is Mode.READ_ONLY:
            _refuse(
                "write_not_allowed",
                f"MySQL and MariaDB refuse EXPLAIN of {_sqlglot_label(tree)} inside a read-only transaction.",
                "use rollback_write mode (nothing is written: EXPLAIN only plans)",
            )
        return
    if mode is Mode.READ_ONLY:
        if explain is not None:
            _refuse(
                "explain_analyze_write",
                f"{explain.render()} runs the {_sqlglot_label(tree)} it explains; this session is read-only.",
                "use rollback_write mode (the change is rolled back), or EXPLAIN without ANALYZE",
            )
        _refuse_write(_sqlglot_label(tree))
    if mode is Mode.SCRATCH and read == "mysql":
        _check_mysql_scratch_targets(tree)


def _sqlglot_refusal_text(tree: exp.Expr) -> str:
    label = _sqlglot_label(tree)
    specific = {
        "ATTACH": "ATTACH opens another database file",
        "DETACH": "DETACH changes which database files are open",
        "PRAGMA": "PRAGMA reads or changes connection settings",
        "SET": "SET changes settings or variables",
        "USE": "USE switches databases",
        "KILL": "KILL ends another session",
        "SHOW": "SHOW is not a query; read information_schema instead",
        "ANALYZE": "ANALYZE writes statistics",
        "DESCRIBE": "DESCRIBE of a table is not a query; read information_schema instead",
    }.get(tree.key.upper())
    return f"{specific or label + ' is not a query'}; the guard refuses it."


def _check_sqlglot_scratch_root(tree: exp.Expr, read: str) -> None:
    kind = str(tree.args.get("kind") or "").upper()
    if isinstance(tree, (exp.Create, exp.Drop)):
        if kind not in ("TABLE", "INDEX", "VIEW", "SEQUENCE"):
            _refuse(
                "statement_not_allowed",
                f"{_sqlglot_label(tree)} is not allowed on a scratch database; only tables, indexes, views "
                "and sequences.",
            )
    elif isinstance(tree, exp.Alter):
        if kind not in ("TABLE", "VIEW", ""):
            _refuse("statement_not_allowed", f"{_sqlglot_label(tree)} is not allowed on a scratch database.")
    elif isinstance(tree, exp.TruncateTable):
        pass
    elif isinstance(tree, exp.Pragma) and read == "sqlite":
        name = _pragma_name(tree)
        if name not in SQLITE_SCRATCH_PRAGMAS:
            _refuse(
                "statement_not_allowed",
                f"PRAGMA {name} is refused; "
                f"a scratch database accepts {', '.join(sorted(SQLITE_SCRATCH_PRAGMAS))}.",
            )
        return
    else:
        _refuse("statement_not_allowed", _sqlglot_refusal_text(tree))
    if read == "mysql":
        _check_mysql_scratch_targets(tree)


def _pragma_name(tree: exp.Expr) -> str:
    target = tree.this
    if isinstance(target, exp.Expr):
        first = target.this if isinstance(target, (exp.EQ, exp.PropertyEQ)) else target
        name = first.name if isinstance(first, exp.Expr) else str(first)
        return str(name or target.sql()).lower()
    return str(target).lower()


def _check_mysql_scratch_targets(tree: exp.Expr) -> None:
    """A scratch database is one MySQL database: DDL and writes may not name another one."""
    targets: list[exp.Expr] = []
    this = tree.this
    if isinstance(this, exp.Schema):
        this = this.this
    if isinstance(this, exp.Table):
        targets.append(this)
    targets.extend(t for t in tree.args.get("tables") or [] if isinstance(t, exp.Table))
    for table in targets:
        if table.args.get("db") is not None:
            _refuse(
                "cross_database",
                f"{table.sql(dialect='mysql')} names another database; "
                "scratch changes stay in the scratch database.",
                "drop the database qualifier",
            )


def _check_sqlglot_nested(node: exp.Expr, mode: Mode) -> None:
    if mode is Mode.SCRATCH and isinstance(node, exp.Drop) and isinstance(node.parent, exp.Alter):
        return  # ALTER TABLE ... DROP COLUMN / INDEX / FOREIGN KEY: an action of the checked ALTER, not a statement
    if isinstance(node, _SQLGLOT_NESTED_STATEMENTS):
        if isinstance(node, _SQLGLOT_WRITE_ROOTS) and isinstance(node.parent, exp.CTE):
            _refuse(
                "writable_cte",
                f"A WITH query is a {_sqlglot_label(node)}, which changes data; the guard allows none.",
                "make every WITH query a SELECT",
            )
        _refuse("statement_not_allowed", f"A nested {_sqlglot_label(node)} statement is not allowed.")
    if isinstance(node, exp.Into):
        _refuse(
            "select_into",
            "SELECT ... INTO writes to a file, a variable or a new table.",
            "drop the INTO clause to read the rows",
        )
    if isinstance(node, exp.Lock) and mode is Mode.READ_ONLY:
        _refuse(
            "locking_clause",
            "FOR UPDATE / LOCK IN SHARE MODE locks rows, and this session is read-only.",
            "drop the locking clause",
        )
    if isinstance(node, exp.PropertyEQ):
        _refuse("variable_assignment", "`:=` assigns a user variable; the guard changes no session state.")


def _sqlglot_call_name(node: exp.Expr, read: str) -> tuple[str | None, bool]:
    """The function name as it will be sent, and whether it is quoted (quoted names are routines)."""
    if isinstance(node, exp.Anonymous):
        this = node.this
        if isinstance(this, exp.Identifier):
            return this.name, bool(this.quoted)
        return str(this), False
    match = _CALL_HEAD.match(_generate(node, read))
    if match is None:
        return None, False
    if match.group(0).rstrip().endswith("(") or not list(node.iter_expressions()):
        return match.group("name"), bool(match.group("q"))
    return None, False  # a bare word with arguments underneath is one of them (a column), not a call


def _check_sqlglot_function(node: exp.Expr, read: str, mode: Mode) -> None:
    if isinstance(node, _SQLGLOT_FORBIDDEN_NODES):
        _refuse("function_forbidden", f"{_sqlglot_label(node)} has side effects; the guard never runs it.")
    if type(node).__name__ in SQLGLOT_KNOWN_FUNCTIONS:
        return
    name, quoted = _sqlglot_call_name(node, read)
    if name is None:
        if mode is not Mode.SCRATCH:
            _refuse(
                "function_not_allowed",
                f"The expression {_generate(node, read)[:80]!r} is not a function the guard knows.",
            )
        return
    policy = _MYSQL_POLICY if read == "mysql" else _SQLITE_POLICY
    key = name.lower()  # MySQL and SQLite function names are case-insensitive
    parent = node.parent
    qualified = isinstance(parent, exp.Dot) and parent.expression is node
    if (qualified or quoted) and mode is not Mode.SCRATCH and policy.forbidden_reason(key, mode) is None:
        shown = f"{parent.this.sql(dialect=read)}.{name}" if isinstance(parent, exp.Dot) else name
        _refuse(
            "function_not_allowed",
            f"{shown}() names a stored routine, not a built-in function; routines can do anything.",
            "use built-in functions only",
        )
    policy.check(key, mode)
    sets_state = key == "last_insert_id" and list(node.iter_expressions())
    if read == "mysql" and sets_state and mode is not Mode.SCRATCH:
        _refuse("function_forbidden", "LAST_INSERT_ID(expr) sets session state; call it without an argument.")


def _cap_sqlglot_rows(tree: exp.Expr, row_cap: int) -> None:
    """Limit a top-level query to row_cap + 1 rows; pymysql otherwise buffers the whole result."""
    if not isinstance(tree, (exp.Select, exp.SetOperation)):
        return
    limit = row_cap + 1
    current = tree.args.get("limit")
    if current is None:
        tree.set("limit", exp.Limit(expression=exp.Literal.number(limit)))
        return
    value = current.expression
    if isinstance(value, exp.Literal) and value.is_int and int(value.this) > limit:
        current.set("expression", exp.Literal.number(limit))
