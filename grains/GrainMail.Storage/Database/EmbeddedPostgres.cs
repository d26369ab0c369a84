using GrainMail.Operations;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace GrainMail.Storage.Database;

/// <summary>
/// The embedded default: a private PostgreSQL cluster under a data directory, created with
/// the installed PostgreSQL's initdb and run with pg_ctl, listening on loopback only with a
/// generated password. Run as the <c>postgres</c> user when this process is root, since
/// PostgreSQL refuses to run as root. A server left running by a killed host is adopted.
/// </summary>
public sealed class EmbeddedPostgres
{
    public const string User = "grainmail";
    public const string Database = "grainmail";

    private readonly string _dir;
    private readonly string _bin;
    private readonly ILogger _logger;
    private readonly bool _asPostgresUser;

    private EmbeddedPostgres(string dir, string bin, int port, string password, ILogger logger)
    {
        _dir = dir;
        _bin = bin;
        Port = port;
        Password = password;
        _logger = logger;
        _asPostgresUser = Environment.UserName == "root";
    }

    public int Port { get; private set; }

    public string Password { get; }

    public string DataDirectory => _dir;

    public string ConnectionString(string database = Database) => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = Port,
        Username = User,
        Password = Password,
        Database = database,
        MaxPoolSize = 200,
        // Orleans and the stream pollers keep a few connections busy; a short timeout keeps
        // readiness honest when the server is gone.
        Timeout = 15,
    }.ConnectionString;

    /// <summary>The installed PostgreSQL's bin directory (highest version), or null.</summary>
    public static string? FindBinaries()
    {
        const string root = "/usr/lib/postgresql";
        if (!Directory.Exists(root)) return null;
        return Directory.GetDirectories(root)
            .Select(d => (dir: d, ok: int.TryParse(Path.GetFileName(d), out var v), v))
            .Where(x => x.ok && File.Exists(Path.Combine(x.dir, "bin", "initdb")))
            .OrderByDescending(x => x.v)
            .Select(x => Path.Combine(x.dir, "bin"))
            .FirstOrDefault();
    }

    /// <summary>
    /// Creates the cluster when <paramref name="dir"/> is empty, starts it (or adopts a running
    /// one) and makes sure the <see cref="Database"/> database exists.
    /// </summary>
    public static async Task<EmbeddedPostgres> StartAsync(string dir, int? preferredPort = null, ILogger? logger = null, CancellationToken ct = default)
    {
        logger ??= NullLogger.Instance;
        var bin = FindBinaries() ?? throw new EmbeddedPostgresException(
            "PostgreSQL is not installed: install the Debian package 'postgresql' (apt-get install -y postgresql).");
        dir = Path.GetFullPath(dir);
        var parent = Path.GetDirectoryName(dir)!;
        Directory.CreateDirectory(parent);
        var passwordFile = Path.Combine(parent, "pg.password");
        var asRoot = Environment.UserName == "root";

        if (!File.Exists(Path.Combine(dir, ".initialized")))
        {
            var password = Convert.ToHexString(RandomNumberGenerator.GetBytes(24)).ToLowerInvariant();
            Directory.CreateDirectory(dir);
            var pwTemp = Path.Combine(dir, ".pwfile");
            await File.WriteAllTextAsync(pwTemp, password + "\n", ct);
            if (asRoot)
            {
                EnsureTraversable(dir);
                await RunAsync("chown", ["-R", "postgres:postgres", dir], asPostgres: false, ct);
            }
            File.SetUnixFileMode(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            var initDir = Path.Combine(dir, "cluster");
            if (Directory.Exists(initDir)) Directory.Delete(initDir, recursive: true);
            await RunAsync(Path.Combine(bin, "initdb"),
                ["-D", initDir, "-U", User, "--pwfile", pwTemp, "--auth", "scram-sha-256", "-E", "UTF8", "--no-locale", "--no-instructions"],
                asRoot, ct);
            File.Delete(pwTemp);
            // Write the password only once the cluster exists, so a half-made cluster is redone.
            SecretFile.Write(passwordFile, password);
            // Mark completion last, so that an interrupted initdb is redone on the next start.
            await File.WriteAllTextAsync(Path.Combine(dir, ".initialized"), "ok\n", ct);
            if (asRoot) await RunAsync("chown", ["postgres:postgres", Path.Combine(dir, ".initialized")], false, ct);
        }

        var pw = (await File.ReadAllTextAsync(passwordFile, ct)).Trim();
        var pg = new EmbeddedPostgres(Path.Combine(dir, "cluster"), bin, 0, pw, logger);
        var running = pg.RunningPort();
        if (running is int p)
        {
            pg.Port = p;
            logger.LogInformation("Adopted the PostgreSQL already running on port {Port}", p);
        }
        else
        {
            pg.Port = preferredPort is int pp and > 0 && IsFree(pp) ? pp : FreePort();
            await pg.StartServerAsync(ct);
        }
        await pg.EnsureDatabaseAsync(Database, ct);
        return pg;
    }

    public async Task EnsureDatabaseAsync(string database, CancellationToken ct = default)
    {
        await using var conn = new NpgsqlConnection(ConnectionString("postgres"));
        await conn.OpenAsync(ct);
        await using var check = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = @d", conn);
        check.Parameters.AddWithValue("d", database);
        if (await check.ExecuteScalarAsync(ct) is null)
        {
            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{database.Replace("\"", "\"\"")}\"", conn);
            try
            {
                await create.ExecuteNonQueryAsync(ct);
            }
            catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.DuplicateDatabase or PostgresErrorCodes.UniqueViolation)
            {
                // Created by a concurrent starter.
            }
        }
    }

    public async Task StopAsync(CancellationToken ct = default)
    {
        if (RunningPort() is null) return;
        await RunAsync(Path.Combine(_bin, "pg_ctl"), ["stop", "-D", _dir, "-m", "fast", "-w", "-t", "60"], _asPostgresUser, ct);
        _logger.LogInformation("PostgreSQL stopped");
    }

    /// <summary>Stops the server at once without a checkpoint, as a crash would (tests of recovery).</summary>
    public Task KillAsync(CancellationToken ct = default) =>
        RunAsync(Path.Combine(_bin, "pg_ctl"), ["stop", "-D", _dir, "-m", "immediate", "-w"], _asPostgresUser, ct);

    private async Task StartServerAsync(CancellationToken ct)
    {
        var log = Path.Combine(Path.GetDirectoryName(_dir)!, "postgresql.log");
        if (_asPostgresUser && !File.Exists(log))
        {
            await File.WriteAllTextAsync(log, "", ct);
            await RunAsync("chown", ["postgres:postgres", log], false, ct);
        }
        var options = string.Join(' ',
            $"-p {Port}",
            "-c listen_addresses=127.0.0.1",
            "-c unix_socket_directories=''",
            "-c max_connections=300",
            "-c shared_buffers=256MB",
            // fsync and synchronous_commit stay on: an acknowledged message must survive a crash.
            "-c wal_compression=on",
            "-c max_wal_size=2GB");
        await RunAsync(Path.Combine(_bin, "pg_ctl"), ["start", "-D", _dir, "-l", log, "-w", "-t", "120", "-o", options], _asPostgresUser, ct);
        _logger.LogInformation("PostgreSQL started on 127.0.0.1:{Port}", Port);
    }

    /// <summary>The port of a live postmaster for this directory, from postmaster.pid, or null.</summary>
    private int? RunningPort()
    {
        var pidFile = Path.Combine(_dir, "postmaster.pid");
        if (!File.Exists(pidFile)) return null;
        string[] lines;
        try
        {
            lines = File.ReadAllLines(pidFile);
        }
        catch (IOException)
        {
            return null;
        }
        if (lines.Length < 4 || !int.TryParse(lines[0], out var pid) || !int.TryParse(lines[3], out var port)) return null;
        try
        {
            using var proc = Process.GetProcessById(pid);
            if (proc.HasExited) return null;
        }
        catch (ArgumentException)
        {
            return null;
        }
        return port;
    }

    private static void EnsureTraversable(string dir)
    {
        // The postgres user must be able to reach the data directory through its parents.
        for (var d = Path.GetDirectoryName(dir); !string.IsNullOrEmpty(d); d = Path.GetDirectoryName(d))
        {
            var mode = File.GetUnixFileMode(d);
            if ((mode & UnixFileMode.OtherExecute) == 0)
                throw new EmbeddedPostgresException(
                    $"The postgres user cannot reach '{dir}': '{d}' is not searchable by others (chmod o+x '{d}' or choose another GRAINMAIL_DATA).");
        }
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var l = new TcpListener(IPAddress.Loopback, port);
            l.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private static async Task RunAsync(string file, IReadOnlyList<string> args, bool asPostgres, CancellationToken ct)
    {
        var psi = new ProcessStartInfo
        {
            FileName = asPostgres ? "runuser" : file,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            // pg_ctl's server inherits the working directory; / is always readable.
            WorkingDirectory = "/",
        };
        if (asPostgres)
        {
            foreach (var a in new[] { "-u", "postgres", "--", file }) psi.ArgumentList.Add(a);
        }
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var proc = Process.Start(psi) ?? throw new EmbeddedPostgresException($"Could not start {file}");
        // Read both pipes to the end so that the child can never block on a full pipe; pg_ctl's
        // server closes its copies because its output goes to the log file.
        var stdout = proc.StandardOutput.ReadToEndAsync(ct);
        var stderr = proc.StandardError.ReadToEndAsync(ct);
        await proc.WaitForExitAsync(ct);
        if (proc.ExitCode != 0)
        {
            throw new EmbeddedPostgresException(
                $"{Path.GetFileName(file)} {string.Join(' ', args)} failed ({proc.ExitCode}): {(await stderr).Trim()} {(await stdout).Trim()}");
        }
    }
}

public sealed class EmbeddedPostgresException(string message) : Exception(message);
