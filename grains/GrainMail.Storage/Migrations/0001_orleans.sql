-- 0001_orleans.sql
--
-- Schema for the Orleans 10.4.x ADO.NET providers on PostgreSQL 15, invariant Npgsql:
--   * Microsoft.Orleans.Clustering.AdoNet   (membership table + gateway list)
--   * Microsoft.Orleans.Persistence.AdoNet  (grain state)
--   * Microsoft.Orleans.Reminders.AdoNet    (reminder table)
--
-- The providers issue no DDL and carry no SQL of their own. At start-up they run
-- "SELECT QueryKey, QueryText FROM OrleansQuery" and afterwards execute only those texts,
-- binding named parameters (@Name) and reading result columns by name. Everything below the
-- OrleansQuery table is therefore ours to shape, as long as each query keeps the contract:
-- the parameter names it is given and the column names / row shapes it must return.
--
-- Parameter types as Npgsql binds them (Orleans maps CLR types to DbType, Npgsql maps on):
--   string -> text, int -> integer, long -> bigint, byte[] -> bytea,
--   DateTime -> DbType.DateTime -> timestamp with time zone (UTC DateTime required).
-- All timestamps are therefore stored as timestamptz; Npgsql hands them back as UTC DateTime.
--
-- Result column names are aliased in the spelling Orleans uses ("Version", "PayloadBinary", ...);
-- Npgsql would also match them case-insensitively.
--
-- Applied once, inside one transaction, by the GrainMail migration runner.

------------------------------------------------------------------------------------------
-- Query catalogue
------------------------------------------------------------------------------------------

CREATE TABLE OrleansQuery
(
    QueryKey  varchar(64) NOT NULL,
    QueryText text        NOT NULL,
    CONSTRAINT pk_orleans_query PRIMARY KEY (QueryKey)
);

------------------------------------------------------------------------------------------
-- Clustering (membership)
--
-- One version row per deployment (cluster id). The version is the table-wide etag of the
-- extended membership protocol: every InsertMembership / UpdateMembership must present the
-- version it read, and succeeds only if that is still current, bumping it by one. Row-level
-- etags returned to Orleans are the table version as well (done by the provider).
-- Lock order everywhere: version row first, then member rows (no deadlocks between writers).
------------------------------------------------------------------------------------------

CREATE TABLE orleans_membership_version
(
    deployment_id text        NOT NULL,
    version       integer     NOT NULL DEFAULT 0,
    changed_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_orleans_membership_version PRIMARY KEY (deployment_id),
    CONSTRAINT ck_orleans_membership_version_nonnegative CHECK (version >= 0)
);

CREATE TABLE orleans_membership
(
    deployment_id   text        NOT NULL,
    address         text        NOT NULL,
    port            integer     NOT NULL,
    generation      integer     NOT NULL,
    silo_name       text        NOT NULL,
    host_name       text        NOT NULL,
    status          integer     NOT NULL,   -- Orleans SiloStatus: 3 = Active, 6 = Dead
    proxy_port      integer     NOT NULL,   -- 0 when the silo is not a gateway
    suspect_times   text        NULL,       -- "silo,yyyy-MM-dd HH:mm:ss.fff GMT|..."
    start_time      timestamptz NOT NULL,
    i_am_alive_time timestamptz NOT NULL,
    CONSTRAINT pk_orleans_membership PRIMARY KEY (deployment_id, address, port, generation),
    CONSTRAINT fk_orleans_membership_version FOREIGN KEY (deployment_id)
        REFERENCES orleans_membership_version (deployment_id)
);

-- Creates the version row of a deployment. TRUE if this call created it, FALSE if it existed.
CREATE FUNCTION orleans_membership_version_init(p_deployment_id text)
RETURNS boolean
LANGUAGE plpgsql
AS $$
BEGIN
    INSERT INTO orleans_membership_version (deployment_id)
    VALUES (p_deployment_id)
    ON CONFLICT (deployment_id) DO NOTHING;

    RETURN FOUND;
END
$$;

-- Locks the version row if it still carries the expected version. FALSE if it does not
-- (stale etag, unknown deployment, or the version would overflow).
CREATE FUNCTION orleans_membership_version_claim(p_deployment_id text, p_expected_version integer)
RETURNS boolean
LANGUAGE plpgsql
AS $$
BEGIN
    IF p_deployment_id IS NULL OR p_expected_version IS NULL THEN
        RETURN FALSE;
    END IF;

    PERFORM 1
    FROM orleans_membership_version
    WHERE deployment_id = p_deployment_id
      AND version = p_expected_version
      AND version < 2147483647
    FOR NO KEY UPDATE;

    RETURN FOUND;
END
$$;

-- Adds a silo row and bumps the table version, all or nothing.
-- FALSE (and no change) when the version is stale or the silo row already exists.
CREATE FUNCTION orleans_membership_insert(
    p_deployment_id   text,
    p_address         text,
    p_port            integer,
    p_generation      integer,
    p_silo_name       text,
    p_host_name       text,
    p_status          integer,
    p_proxy_port      integer,
    p_start_time      timestamptz,
    p_i_am_alive_time timestamptz,
    p_version         integer)
RETURNS boolean
LANGUAGE plpgsql
AS $$
BEGIN
    IF NOT orleans_membership_version_claim(p_deployment_id, p_version) THEN
        RETURN FALSE;
    END IF;

    INSERT INTO orleans_membership
        (deployment_id, address, port, generation, silo_name, host_name,
         status, proxy_port, suspect_times, start_time, i_am_alive_time)
    VALUES
        (p_deployment_id, p_address, p_port, p_generation, p_silo_name, p_host_name,
         p_status, p_proxy_port, NULL, p_start_time, p_i_am_alive_time)
    ON CONFLICT (deployment_id, address, port, generation) DO NOTHING;

    IF NOT FOUND THEN
        RETURN FALSE;
    END IF;

    UPDATE orleans_membership_version
    SET version = version + 1,
        changed_at = now()
    WHERE deployment_id = p_deployment_id;

    RETURN TRUE;
END
$$;

-- Updates status / suspicions / liveness of an existing silo row and bumps the table
-- version, all or nothing. FALSE (and no change) when the version is stale or the row is missing.
CREATE FUNCTION orleans_membership_update(
    p_deployment_id   text,
    p_address         text,
    p_port            integer,
    p_generation      integer,
    p_status          integer,
    p_suspect_times   text,
    p_i_am_alive_time timestamptz,
    p_version         integer)
RETURNS boolean
LANGUAGE plpgsql
AS $$
BEGIN
    IF NOT orleans_membership_version_claim(p_deployment_id, p_version) THEN
        RETURN FALSE;
    END IF;

    UPDATE orleans_membership
    SET status          = p_status,
        suspect_times   = p_suspect_times,
        i_am_alive_time = GREATEST(i_am_alive_time, p_i_am_alive_time)
    WHERE deployment_id = p_deployment_id
      AND address = p_address
      AND port = p_port
      AND generation = p_generation;

    IF NOT FOUND THEN
        RETURN FALSE;
    END IF;

    UPDATE orleans_membership_version
    SET version = version + 1,
        changed_at = now()
    WHERE deployment_id = p_deployment_id;

    RETURN TRUE;
END
$$;

-- Removes a deployment completely (silo rows, then its version row). Returns silo rows removed.
CREATE FUNCTION orleans_membership_delete_deployment(p_deployment_id text)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    v_removed integer;
BEGIN
    -- Take the version row first, like every other writer does.
    PERFORM 1
    FROM orleans_membership_version
    WHERE deployment_id = p_deployment_id
    FOR UPDATE;

    DELETE FROM orleans_membership
    WHERE deployment_id = p_deployment_id;
    GET DIAGNOSTICS v_removed = ROW_COUNT;

    DELETE FROM orleans_membership_version
    WHERE deployment_id = p_deployment_id;

    RETURN v_removed;
END
$$;

-- Latest suspicion timestamp in a SuspectTimes string, NULL when there are none.
-- Anything unparseable counts as "just now" (infinity), so such a row is never cleaned up.
CREATE FUNCTION orleans_membership_latest_suspicion(p_suspect_times text)
RETURNS timestamptz
LANGUAGE plpgsql
STABLE
AS $$
DECLARE
    v_vote   text;
    v_when   timestamptz;
    v_latest timestamptz;
BEGIN
    IF p_suspect_times IS NULL OR btrim(p_suspect_times) = '' THEN
        RETURN NULL;
    END IF;

    FOREACH v_vote IN ARRAY string_to_array(p_suspect_times, '|') LOOP
        BEGIN
            -- "<silo address>,2024-05-01 10:00:00.123 GMT": the time follows the last comma.
            v_when := substring(v_vote FROM ',([^,]*)$')::timestamptz;
        EXCEPTION WHEN others THEN
            RETURN 'infinity';
        END;

        IF v_when IS NULL THEN
            RETURN 'infinity';
        END IF;

        v_latest := GREATEST(v_latest, v_when);
    END LOOP;

    RETURN v_latest;
END
$$;

------------------------------------------------------------------------------------------
-- Grain persistence
--
-- The row of a grain is identified by service id, grain type (hash + name) and grain id
-- (hash, the two 64-bit halves and the optional string key / key extension). The hashes
-- are computed by the provider and serve as the index prefix; the full values are always
-- compared as well. The unique index makes "insert when no row exists" race-free (two
-- activations inserting at once: exactly one wins) and keeps index entries small even for
-- long type names or string keys.
--
-- Etag = version (integer): 1 after the first write, +1 on every write or clear.
-- Failed writes return NULL, which the provider turns into InconsistentStateException.
------------------------------------------------------------------------------------------

CREATE TABLE orleans_storage
(
    service_id         text        NOT NULL,
    grain_type_hash    integer     NOT NULL,
    grain_type         text        NOT NULL,
    grain_id_hash      integer     NOT NULL,
    grain_id_n0        bigint      NOT NULL,
    grain_id_n1        bigint      NOT NULL,
    grain_id_extension text        NULL,
    payload_binary     bytea       NULL,      -- NULL after ClearState (row kept as a tombstone)
    version            integer     NOT NULL,
    modified_on        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ck_orleans_storage_version_positive CHECK (version > 0)
);

CREATE UNIQUE INDEX ux_orleans_storage_grain
    ON orleans_storage
    (
        grain_id_hash,
        grain_type_hash,
        grain_id_n0,
        grain_id_n1,
        md5(service_id),
        md5(grain_type),
        (grain_id_extension IS NULL),
        md5(COALESCE(grain_id_extension, ''))
    );

-- WriteState. p_expected_version NULL means "the grain believes no row exists": insert, or
-- fail if a row is there. Otherwise update only if the stored version still matches.
-- Returns the new version, or NULL when the write did not happen.
CREATE FUNCTION orleans_storage_write(
    p_grain_id_hash      integer,
    p_grain_id_n0        bigint,
    p_grain_id_n1        bigint,
    p_grain_type_hash    integer,
    p_grain_type         text,
    p_grain_id_extension text,
    p_service_id         text,
    p_expected_version   integer,
    p_payload            bytea)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    v_new_version integer;
BEGIN
    IF p_expected_version IS NULL THEN
        INSERT INTO orleans_storage
            (service_id, grain_type_hash, grain_type, grain_id_hash, grain_id_n0, grain_id_n1,
             grain_id_extension, payload_binary, version, modified_on)
        VALUES
            (p_service_id, p_grain_type_hash, p_grain_type, p_grain_id_hash, p_grain_id_n0, p_grain_id_n1,
             p_grain_id_extension, p_payload, 1, now())
        ON CONFLICT DO NOTHING
        RETURNING version INTO v_new_version;
    ELSE
        UPDATE orleans_storage
        SET payload_binary = p_payload,
            version        = version + 1,
            modified_on    = now()
        WHERE grain_id_hash = p_grain_id_hash
          AND grain_type_hash = p_grain_type_hash
          AND grain_id_n0 = p_grain_id_n0
          AND grain_id_n1 = p_grain_id_n1
          AND service_id = p_service_id
          AND grain_type = p_grain_type
          AND grain_id_extension IS NOT DISTINCT FROM p_grain_id_extension
          AND version = p_expected_version
        RETURNING version INTO v_new_version;
    END IF;

    RETURN v_new_version;
END
$$;

-- ClearState with DeleteStateOnClear = false: drop the payload, keep the row, bump the version.
-- Returns the new version, or NULL on a version mismatch / missing row.
CREATE FUNCTION orleans_storage_clear(
    p_grain_id_hash      integer,
    p_grain_id_n0        bigint,
    p_grain_id_n1        bigint,
    p_grain_type_hash    integer,
    p_grain_type         text,
    p_grain_id_extension text,
    p_service_id         text,
    p_expected_version   integer)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    v_new_version integer;
BEGIN
    UPDATE orleans_storage
    SET payload_binary = NULL,
        version        = version + 1,
        modified_on    = now()
    WHERE grain_id_hash = p_grain_id_hash
      AND grain_type_hash = p_grain_type_hash
      AND grain_id_n0 = p_grain_id_n0
      AND grain_id_n1 = p_grain_id_n1
      AND service_id = p_service_id
      AND grain_type = p_grain_type
      AND grain_id_extension IS NOT DISTINCT FROM p_grain_id_extension
      AND version = p_expected_version
    RETURNING version INTO v_new_version;

    RETURN v_new_version;
END
$$;

-- ClearState with DeleteStateOnClear = true: remove the row.
-- Returns a value that differs from the presented etag (deleted version + 1) on success,
-- NULL on a version mismatch / missing row.
CREATE FUNCTION orleans_storage_delete(
    p_grain_id_hash      integer,
    p_grain_id_n0        bigint,
    p_grain_id_n1        bigint,
    p_grain_type_hash    integer,
    p_grain_type         text,
    p_grain_id_extension text,
    p_service_id         text,
    p_expected_version   integer)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    v_deleted_version integer;
BEGIN
    DELETE FROM orleans_storage
    WHERE grain_id_hash = p_grain_id_hash
      AND grain_type_hash = p_grain_type_hash
      AND grain_id_n0 = p_grain_id_n0
      AND grain_id_n1 = p_grain_id_n1
      AND service_id = p_service_id
      AND grain_type = p_grain_type
      AND grain_id_extension IS NOT DISTINCT FROM p_grain_id_extension
      AND version = p_expected_version
    RETURNING version INTO v_deleted_version;

    RETURN v_deleted_version + 1;
END
$$;

------------------------------------------------------------------------------------------
-- Reminders
--
-- grain_hash is GrainId.GetUniformHashCode() reinterpreted as a signed int; range bounds
-- arrive reinterpreted the same way, so ranges are compared in signed order.
-- version is the reminder etag: 0 on insert, +1 on every upsert.
------------------------------------------------------------------------------------------

CREATE TABLE orleans_reminder
(
    service_id    text        NOT NULL,
    grain_id      text        NOT NULL,
    reminder_name text        NOT NULL,
    start_time    timestamptz NOT NULL,
    period_ms     bigint      NOT NULL,
    grain_hash    integer     NOT NULL,
    version       integer     NOT NULL,
    CONSTRAINT pk_orleans_reminder PRIMARY KEY (service_id, grain_id, reminder_name)
);

CREATE INDEX ix_orleans_reminder_grain_hash
    ON orleans_reminder (service_id, grain_hash);

------------------------------------------------------------------------------------------
-- The queries Orleans runs
------------------------------------------------------------------------------------------

INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES

-- ============ Clustering ============

-- Params: DeploymentId. One row, one column: TRUE if the version row was created.
('InsertMembershipVersionKey', $q$
SELECT orleans_membership_version_init(@DeploymentId) AS "Inserted";
$q$),

-- Params: DeploymentId, Address, Port, Generation, SiloName, HostName, Status, ProxyPort,
--         StartTime, IAmAliveTime, Version. One row, one column: TRUE on success.
('InsertMembershipKey', $q$
SELECT orleans_membership_insert(
    @DeploymentId, @Address, @Port, @Generation, @SiloName, @HostName,
    @Status, @ProxyPort, @StartTime, @IAmAliveTime, @Version) AS "Succeeded";
$q$),

-- Params: DeploymentId, Address, Port, Generation, Status, SuspectTimes, IAmAliveTime,
--         Version. One row, one column: TRUE on success.
('UpdateMembershipKey', $q$
SELECT orleans_membership_update(
    @DeploymentId, @Address, @Port, @Generation,
    @Status, @SuspectTimes, @IAmAliveTime, @Version) AS "Succeeded";
$q$),

-- Params: DeploymentId, Address, Port, Generation, IAmAliveTime. Result not read.
-- Liveness only; does not touch the table version. Never moves the time backwards.
('UpdateIAmAlivetimeKey', $q$
UPDATE orleans_membership
SET i_am_alive_time = GREATEST(i_am_alive_time, @IAmAliveTime)
WHERE deployment_id = @DeploymentId
  AND address = @Address
  AND port = @Port
  AND generation = @Generation;
$q$),

-- Params: DeploymentId, Address, Port, Generation.
-- The version row of the deployment (no row at all if it does not exist), joined with the
-- row of that silo if there is one (NULL silo columns otherwise).
('MembershipReadRowKey', $q$
SELECT
    v.deployment_id   AS "DeploymentId",
    m.address         AS "Address",
    m.port            AS "Port",
    m.generation      AS "Generation",
    m.silo_name       AS "SiloName",
    m.host_name       AS "HostName",
    m.status          AS "Status",
    m.proxy_port      AS "ProxyPort",
    m.suspect_times   AS "SuspectTimes",
    m.start_time      AS "StartTime",
    m.i_am_alive_time AS "IAmAliveTime",
    v.version         AS "Version"
FROM orleans_membership_version AS v
LEFT JOIN orleans_membership AS m
       ON m.deployment_id = v.deployment_id
      AND m.address = @Address
      AND m.port = @Port
      AND m.generation = @Generation
WHERE v.deployment_id = @DeploymentId;
$q$),

-- Params: DeploymentId. Same columns as MembershipReadRowKey, one row per silo
-- (a single row with NULL silo columns when the deployment has no silos yet).
('MembershipReadAllKey', $q$
SELECT
    v.deployment_id   AS "DeploymentId",
    m.address         AS "Address",
    m.port            AS "Port",
    m.generation      AS "Generation",
    m.silo_name       AS "SiloName",
    m.host_name       AS "HostName",
    m.status          AS "Status",
    m.proxy_port      AS "ProxyPort",
    m.suspect_times   AS "SuspectTimes",
    m.start_time      AS "StartTime",
    m.i_am_alive_time AS "IAmAliveTime",
    v.version         AS "Version"
FROM orleans_membership_version AS v
LEFT JOIN orleans_membership AS m
       ON m.deployment_id = v.deployment_id
WHERE v.deployment_id = @DeploymentId;
$q$),

-- Params: DeploymentId, Status (= 3, Active). Address, ProxyPort, Generation of every
-- active silo that accepts clients.
('GatewaysQueryKey', $q$
SELECT
    address    AS "Address",
    proxy_port AS "ProxyPort",
    generation AS "Generation"
FROM orleans_membership
WHERE deployment_id = @DeploymentId
  AND status = @Status
  AND proxy_port > 0;
$q$),

-- Params: DeploymentId. Result not read. Removes the silo rows and the version row of the deployment.
('DeleteMembershipTableEntriesKey', $q$
SELECT orleans_membership_delete_deployment(@DeploymentId) AS "Removed";
$q$),

-- Params: DeploymentId, IAmAliveTime (the cutoff). Result not read.
-- Fallback used only when CleanupDefunctSiloEntryKey is absent: removes Dead silos that
-- started, last reported alive and were last suspected before the cutoff.
('CleanupDefunctSiloEntriesKey', $q$
DELETE FROM orleans_membership
WHERE deployment_id = @DeploymentId
  AND status = 6
  AND i_am_alive_time < @IAmAliveTime
  AND start_time < @IAmAliveTime
  AND COALESCE(orleans_membership_latest_suspicion(suspect_times), '-infinity') < @IAmAliveTime;
$q$),

-- Params: DeploymentId, Address, Port, Generation, SuspectTimes, StartTime, IAmAliveTime,
-- all as the provider read them just before. Result not read. Deletes that one Dead row
-- only if it has not changed since it was read.
('CleanupDefunctSiloEntryKey', $q$
DELETE FROM orleans_membership
WHERE deployment_id = @DeploymentId
  AND address = @Address
  AND port = @Port
  AND generation = @Generation
  AND status = 6
  AND start_time = @StartTime
  AND i_am_alive_time = @IAmAliveTime
  AND COALESCE(suspect_times, '') = COALESCE(@SuspectTimes, '');
$q$),

-- ============ Grain persistence ============

-- Params: GrainIdHash, GrainIdN0, GrainIdN1, GrainTypeHash, GrainTypeString,
--         GrainIdExtensionString, ServiceId.
-- Zero rows (never stored) or one row: PayloadBinary (NULL after a clear), Version.
('ReadFromStorageKey', $q$
SELECT
    payload_binary AS "PayloadBinary",
    version        AS "Version"
FROM orleans_storage
WHERE grain_id_hash = @GrainIdHash
  AND grain_type_hash = @GrainTypeHash
  AND grain_id_n0 = @GrainIdN0
  AND grain_id_n1 = @GrainIdN1
  AND service_id = @ServiceId
  AND grain_type = @GrainTypeString
  AND grain_id_extension IS NOT DISTINCT FROM @GrainIdExtensionString;
$q$),

-- Params: the seven key params, GrainStateVersion (NULL = no row expected), PayloadBinary.
-- One row: NewGrainStateVersion = new version, or NULL if the etag check failed.
('WriteToStorageKey', $q$
SELECT orleans_storage_write(
    @GrainIdHash, @GrainIdN0, @GrainIdN1, @GrainTypeHash, @GrainTypeString,
    @GrainIdExtensionString, @ServiceId, @GrainStateVersion, @PayloadBinary) AS "NewGrainStateVersion";
$q$),

-- Params: the seven key params, GrainStateVersion.
-- One row, one column: new version, or NULL if the etag check failed.
('ClearStorageKey', $q$
SELECT orleans_storage_clear(
    @GrainIdHash, @GrainIdN0, @GrainIdN1, @GrainTypeHash, @GrainTypeString,
    @GrainIdExtensionString, @ServiceId, @GrainStateVersion) AS "NewGrainStateVersion";
$q$),

-- Params: the seven key params, GrainStateVersion. Used when DeleteStateOnClear = true.
-- One row, one column: deleted version + 1, or NULL if the etag check failed.
('DeleteStorageKey', $q$
SELECT orleans_storage_delete(
    @GrainIdHash, @GrainIdN0, @GrainIdN1, @GrainTypeHash, @GrainTypeString,
    @GrainIdExtensionString, @ServiceId, @GrainStateVersion) AS "NewGrainStateVersion";
$q$),

-- ============ Reminders ============

-- Params: ServiceId, GrainId, ReminderName, StartTime, Period (ms; int or bigint), GrainHash.
-- One row: Version, the new etag of the reminder.
('UpsertReminderRowKey', $q$
INSERT INTO orleans_reminder AS r
    (service_id, grain_id, reminder_name, start_time, period_ms, grain_hash, version)
VALUES
    (@ServiceId, @GrainId, @ReminderName, @StartTime, @Period, @GrainHash, 0)
ON CONFLICT (service_id, grain_id, reminder_name) DO UPDATE
SET start_time = EXCLUDED.start_time,
    period_ms  = EXCLUDED.period_ms,
    grain_hash = EXCLUDED.grain_hash,
    version    = r.version + 1
RETURNING r.version AS "Version";
$q$),

-- Params: ServiceId, GrainId. All reminders of the grain.
('ReadReminderRowsKey', $q$
SELECT
    grain_id      AS "GrainId",
    reminder_name AS "ReminderName",
    start_time    AS "StartTime",
    period_ms     AS "Period",
    version       AS "Version"
FROM orleans_reminder
WHERE service_id = @ServiceId
  AND grain_id = @GrainId;
$q$),

-- Params: ServiceId, GrainId, ReminderName. Zero or one row.
('ReadReminderRowKey', $q$
SELECT
    grain_id      AS "GrainId",
    reminder_name AS "ReminderName",
    start_time    AS "StartTime",
    period_ms     AS "Period",
    version       AS "Version"
FROM orleans_reminder
WHERE service_id = @ServiceId
  AND grain_id = @GrainId
  AND reminder_name = @ReminderName;
$q$),

-- Params: ServiceId, BeginHash, EndHash. Used when (int)BeginHash < (int)EndHash:
-- the range (BeginHash, EndHash].
('ReadRangeRows1Key', $q$
SELECT
    grain_id      AS "GrainId",
    reminder_name AS "ReminderName",
    start_time    AS "StartTime",
    period_ms     AS "Period",
    version       AS "Version"
FROM orleans_reminder
WHERE service_id = @ServiceId
  AND grain_hash > @BeginHash
  AND grain_hash <= @EndHash;
$q$),

-- Params: ServiceId, BeginHash, EndHash. Used otherwise: the range wraps around,
-- (BeginHash, max] + [min, EndHash]; BeginHash = EndHash selects everything.
('ReadRangeRows2Key', $q$
SELECT
    grain_id      AS "GrainId",
    reminder_name AS "ReminderName",
    start_time    AS "StartTime",
    period_ms     AS "Period",
    version       AS "Version"
FROM orleans_reminder
WHERE service_id = @ServiceId
  AND (grain_hash > @BeginHash OR grain_hash <= @EndHash);
$q$),

-- Params: ServiceId, GrainId, ReminderName, Version.
-- One row, one column: TRUE if the row existed with that etag and was deleted.
('DeleteReminderRowKey', $q$
WITH removed AS (
    DELETE FROM orleans_reminder
    WHERE service_id = @ServiceId
      AND grain_id = @GrainId
      AND reminder_name = @ReminderName
      AND version = @Version
    RETURNING 1
)
SELECT count(*) > 0 AS "Deleted" FROM removed;
$q$),

-- Params: ServiceId. Result not read. Removes every reminder of the service.
('DeleteReminderRowsKey', $q$
DELETE FROM orleans_reminder
WHERE service_id = @ServiceId;
$q$);
