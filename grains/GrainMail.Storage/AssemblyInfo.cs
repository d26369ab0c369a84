// GrainMail runs on Linux (the embedded PostgreSQL, file modes and runuser are Linux facts).
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
