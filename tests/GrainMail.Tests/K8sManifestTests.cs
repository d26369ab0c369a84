using GrainMail.Gateways.Common.Tls;
using System.Text.RegularExpressions;
using GrainMail.Tests.Infrastructure;
using k8s;
using k8s.Models;
using YamlDotNet.RepresentationModel;

namespace GrainMail.Tests;

/// <summary>
/// The manifests in k8s/: every file of the base and of both overlays parses (strictly) into
/// Kubernetes' typed models, and the references between resources hold — selectors, ports,
/// probes, Secrets and ConfigMaps with their keys, volumes, service accounts. kustomize is not
/// needed: <see cref="Kustomize"/> does what these kustomizations use (resources, strategic-merge
/// patches by kind and name, namespace).
/// </summary>
public sealed class K8sManifestTests
{
    private static readonly string K8s = RepoFiles.PathOf("k8s");

    public static TheoryData<string> Builds() => new("base", "overlays/beijing", "overlays/hangzhou");

    [Theory]
    [MemberData(nameof(Builds))]
    public void Every_reference_between_the_manifests_holds(string dir) => CheckReferences(Load(Path.Combine(K8s, dir)));

    [Fact]
    public void A_broken_reference_is_caught()
    {
        CheckReferences(Load(Path.Combine(K8s, "base")));
        var objects = Load(Path.Combine(K8s, "base"));
        objects.OfType<V1Service>().First(s => s.Metadata.Name == "grainmail-mail").Spec.Ports[0].TargetPort = "smtp-typo";
        Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => CheckReferences(objects));
        objects = Load(Path.Combine(K8s, "base"));
        objects.OfType<V1Deployment>().Single().Spec.Template.Spec.Containers[0].Env.First(e => e.ValueFrom?.SecretKeyRef is not null).ValueFrom.SecretKeyRef.Key = "NO_SUCH_KEY";
        Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => CheckReferences(objects));
        objects = Load(Path.Combine(K8s, "base"));
        objects.OfType<V1PodDisruptionBudget>().First().Spec.Selector.MatchLabels["app.kubernetes.io/component"] = "nothing";
        Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => CheckReferences(objects));
    }

    private static void CheckReferences(List<object> objects)
    {
        var set = new Manifests(objects);
        Assert.Single(set.Of<V1StatefulSet>());
        Assert.Single(set.Of<V1Deployment>());
        Assert.All(objects, o => Assert.Equal("grainmail", ((IMetadata<V1ObjectMeta>)o).Metadata.NamespaceProperty));

        foreach (var (name, meta, spec) in set.Workloads())
        {
            Assert.True(Subset(spec.Selector.MatchLabels, meta.Labels), $"{name}: selector does not match its pod labels");
            Assert.NotNull(spec.Template.Spec.ServiceAccountName);
            Assert.Contains(set.Of<V1ServiceAccount>(), a => a.Metadata.Name == spec.Template.Spec.ServiceAccountName);
            var volumes = spec.Template.Spec.Volumes ?? [];
            foreach (var v in volumes.Where(v => v.Secret is not null))
            {
                var keys = set.SecretKeys(v.Secret.SecretName);
                Assert.All(v.Secret.Items ?? [], i => Assert.Contains(i.Key, keys));
            }
            foreach (var c in spec.Template.Spec.Containers)
            {
                var where = $"{name}/{c.Name}";
                Assert.All(c.Ports, p => Assert.True(p.Name is { Length: > 0 and <= 15 }, $"{where}: port name {p.Name}"));
                Assert.Equal(c.Ports.Count, c.Ports.Select(p => p.Name).Distinct().Count());
                foreach (var e in c.Env ?? [])
                {
                    if (e.ValueFrom?.SecretKeyRef is { } s) Assert.Contains(s.Key, set.SecretKeys(s.Name));
                    if (e.ValueFrom?.ConfigMapKeyRef is { } m) Assert.Contains(m.Key, set.ConfigMapKeys(m.Name));
                }
                foreach (var e in c.EnvFrom ?? [])
                {
                    if (e.ConfigMapRef is { } m) set.ConfigMapKeys(m.Name);
                    if (e.SecretRef is { } s) set.SecretKeys(s.Name);
                }
                Assert.All(c.VolumeMounts ?? [], m => Assert.Contains(volumes, v => v.Name == m.Name));
                Assert.Equal("/readyz", c.ReadinessProbe.HttpGet.Path);
                Assert.Equal("/healthz", c.LivenessProbe.HttpGet.Path);
                foreach (var probe in new[] { c.ReadinessProbe, c.LivenessProbe, c.StartupProbe }.Where(p => p is not null))
                {
                    Assert.True(Exposes(c, probe.HttpGet.Port), $"{where}: probe port {probe.HttpGet.Port.Value} is not a container port");
                }
                foreach (var r in new[] { "cpu", "memory" })
                {
                    Assert.True(c.Resources.Requests.ContainsKey(r), $"{where}: no {r} request");
                    Assert.True(c.Resources.Limits.ContainsKey(r), $"{where}: no {r} limit");
                }
                // The ports GrainMail listens on are the ports the container declares.
                foreach (var (variable, port) in PortVariables)
                {
                    var value = Env(c, variable);
                    if (value is null or "0") continue;
                    Assert.True(c.Ports.Any(p => p.Name == port && p.ContainerPort.ToString() == value), $"{where}: {variable}={value} but port {port} differs");
                }
            }
        }

        foreach (var svc in set.Of<V1Service>())
        {
            var targets = set.Workloads().Where(w => Subset(svc.Spec.Selector, w.Template.Labels)).ToList();
            Assert.True(targets.Count > 0, $"service {svc.Metadata.Name} selects no pods");
            foreach (var port in svc.Spec.Ports)
            {
                Assert.All(targets, t => Assert.True(t.Spec.Template.Spec.Containers.Any(c => Exposes(c, port.TargetPort)),
                    $"service {svc.Metadata.Name}: target port {port.TargetPort?.Value} is not exposed by {t.Name}"));
            }
        }
        foreach (var pdb in set.Of<V1PodDisruptionBudget>())
        {
            Assert.Single(set.Workloads(), w => Subset(pdb.Spec.Selector.MatchLabels, w.Template.Labels));
        }
        var silo = set.Of<V1StatefulSet>().Single();
        var governing = Assert.Single(set.Of<V1Service>(), s => s.Metadata.Name == silo.Spec.ServiceName);
        Assert.Equal("None", governing.Spec.ClusterIP);
        Assert.Single(set.Of<V1PodDisruptionBudget>(), p => Subset(p.Spec.Selector.MatchLabels, silo.Spec.Template.Metadata.Labels));
    }

    [Fact]
    public void Silos_and_gateways_have_their_roles_ports_and_services()
    {
        var set = new Manifests(Load(Path.Combine(K8s, "base")));
        var silo = set.Of<V1StatefulSet>().Single().Spec.Template.Spec.Containers.Single();
        Assert.Equal("silo", Env(silo, "GRAINMAIL_ROLE"));
        Assert.Equal([8080, 11111, 30000], silo.Ports.Select(p => p.ContainerPort).Order());
        Assert.Equal("11111", Env(silo, "GRAINMAIL_SILO_PORT"));
        Assert.Equal("30000", Env(silo, "GRAINMAIL_GATEWAY_PORT"));

        var gateway = set.Of<V1Deployment>().Single().Spec.Template.Spec.Containers.Single();
        Assert.Equal("gateway", Env(gateway, "GRAINMAIL_ROLE"));
        int[] mail = [25, 110, 143, 465, 587, 993, 995];
        Assert.Equal(mail, gateway.Ports.Select(p => p.ContainerPort).Where(p => p != 8080).Order());
        var external = Assert.Single(set.Of<V1Service>(), s => s.Spec.Type == "LoadBalancer");
        Assert.Equal(mail, external.Spec.Ports.Select(p => p.Port).Order());
        Assert.Contains(set.Of<V1Service>(), s => s.Spec.Ports.Any(p => p.Port == 8080) && Subset(s.Spec.Selector, set.Of<V1Deployment>().Single().Spec.Template.Metadata.Labels));

        var config = set.Of<V1ConfigMap>().Single(m => m.Metadata.Name == "grainmail-config").Data;
        Assert.Equal("0.0.0.0", config["GRAINMAIL_LISTEN"]);
        Assert.StartsWith("http://0.0.0.0:8080", config["GRAINMAIL_HTTP"]);
        foreach (var c in new[] { silo, gateway })
        {
            Assert.Equal("status.podIP", c.Env.Single(e => e.Name == "GrainMail__AdvertisedAddress").ValueFrom.FieldRef.FieldPath);
            foreach (var secret in new[] { "GRAINMAIL_ADMIN_TOKEN", "GrainMail__TlsCertificatePem", "GrainMail__TlsKeyPem" })
            {
                Assert.NotNull(c.Env.Single(e => e.Name == secret).ValueFrom.SecretKeyRef);
            }
        }
        // Only silos hold the database credentials and the master key; the internet-facing
        // gateways find the silos through the headless service's Orleans gateway port.
        foreach (var secret in new[] { "GRAINMAIL_DB", "GRAINMAIL_MASTER_KEY" })
        {
            Assert.NotNull(silo.Env.Single(e => e.Name == secret).ValueFrom.SecretKeyRef);
            Assert.DoesNotContain(gateway.Env, e => e.Name == secret);
        }
        var silos = Env(gateway, "GRAINMAIL_SILOS")!.Split(':');
        var siloService = Assert.Single(set.Of<V1Service>(), s => s.Metadata.Name == silos[0]);
        Assert.Equal("None", siloService.Spec.ClusterIP);
        Assert.Contains(siloService.Spec.Ports, p => p.Port == int.Parse(silos[1]));
        Assert.True(Subset(siloService.Spec.Selector, set.Of<V1StatefulSet>().Single().Spec.Template.Metadata.Labels));

        // Secrets are placeholders, and say so; the connection string names both regions' hosts.
        var secrets = set.Of<V1Secret>().ToList();
        Assert.All(secrets.SelectMany(s => s.StringData), kv => Assert.Contains("REPLACE", kv.Value));
        var db = secrets.Single(s => s.Metadata.Name == "grainmail-secrets").StringData["GRAINMAIL_DB"];
        Assert.Contains("Target Session Attributes=primary", db);
        var hosts = Regex.Match(db, "Host=([^;]+)").Groups[1].Value.Split(',');
        Assert.Equal(2, hosts.Length);
        Assert.Contains(hosts, h => h.Contains("beijing"));
        Assert.Contains(hosts, h => h.Contains("hangzhou"));
    }

    [Theory]
    [InlineData("beijing")]
    [InlineData("hangzhou")]
    public void Each_overlay_puts_its_region_on_silos_and_gateways(string region)
    {
        var set = new Manifests(Load(Path.Combine(K8s, "overlays", region)));
        var config = set.Of<V1ConfigMap>().Single(m => m.Metadata.Name == "grainmail-config");
        Assert.Equal(region, config.Data["GRAINMAIL_REGION"]);
        foreach (var (name, meta, spec) in set.Workloads())
        {
            Assert.Equal(region, meta.Labels["grainmail/region"]);
            var c = spec.Template.Spec.Containers.Single();
            var env = c.Env.Single(e => e.Name == "GRAINMAIL_REGION");
            Assert.Equal(("grainmail-config", "GRAINMAIL_REGION"), (env.ValueFrom.ConfigMapKeyRef.Name, env.ValueFrom.ConfigMapKeyRef.Key));
        }
        // The overlay changes nothing else: the same resources as the base.
        var baseNames = new Manifests(Load(Path.Combine(K8s, "base"))).Names();
        Assert.Equal(baseNames, set.Names());
    }

    [Fact]
    public void Patches_merge_maps_and_lists_by_name()
    {
        var target = Yaml("a: {b: 1, c: [x]}\nlist: [{name: one, v: 1}, {name: two, v: 2}]\n");
        Kustomize.Merge(target, Yaml("a: {c: [y]}\nlist: [{name: two, v: 3}, {name: three}]\n"));
        var a = (YamlMappingNode)target["a"];
        Assert.Equal("1", a["b"].ToString());
        Assert.Equal(["y"], ((YamlSequenceNode)a["c"]).Children.Select(c => c.ToString()));
        var text = Kustomize.Text([target]);
        Assert.Contains("v: 3", text);
        Assert.Contains("name: three", text);
        Assert.Contains("v: 1", text);

        static YamlMappingNode Yaml(string s)
        {
            var stream = new YamlStream();
            stream.Load(new StringReader(s));
            return (YamlMappingNode)stream.Documents[0].RootNode;
        }
    }

    private static readonly (string Variable, string Port)[] PortVariables =
    [
        ("GRAINMAIL_SMTP_MX_PORT", "smtp"), ("GRAINMAIL_SMTP_SUBMISSION_PORT", "submission"), ("GRAINMAIL_SMTP_SUBMISSIONS_PORT", "submissions"),
        ("GRAINMAIL_IMAP_PORT", "imap"), ("GRAINMAIL_IMAPS_PORT", "imaps"), ("GRAINMAIL_POP3_PORT", "pop3"), ("GRAINMAIL_POP3S_PORT", "pop3s"),
        ("GRAINMAIL_SILO_PORT", "silo"), ("GRAINMAIL_GATEWAY_PORT", "orleans-gw"),
    ];

    private static string? Env(V1Container c, string name) => c.Env?.SingleOrDefault(e => e.Name == name)?.Value;

    private static bool Subset(IDictionary<string, string>? selector, IDictionary<string, string>? labels) =>
        selector is { Count: > 0 } && labels is not null && selector.All(kv => labels.TryGetValue(kv.Key, out var v) && v == kv.Value);

    private static bool Exposes(V1Container c, IntOrString? port) =>
        port is not null && c.Ports.Any(p => p.Name == port.Value || p.ContainerPort.ToString() == port.Value);

    /// <summary>The kustomization in <paramref name="dir"/>, built and parsed strictly into typed objects.</summary>
    private static List<object> Load(string dir) =>
        KubernetesYaml.LoadAllFromString(Kustomize.Text(Kustomize.Build(dir)), strict: true).ToList();

    private sealed class Manifests(List<object> objects)
    {
        public IEnumerable<T> Of<T>() => objects.OfType<T>();

        public SortedSet<string> Names() =>
            new(objects.Select(o => o.GetType().Name + "/" + ((IMetadata<V1ObjectMeta>)o).Metadata.Name), StringComparer.Ordinal);

        public IEnumerable<(string Name, V1ObjectMeta Template, Workload Spec)> Workloads() =>
            Of<V1StatefulSet>().Select(s => (s.Metadata.Name, s.Spec.Template.Metadata, new Workload(s.Spec.Selector, s.Spec.Template)))
                .Concat(Of<V1Deployment>().Select(d => (d.Metadata.Name, d.Spec.Template.Metadata, new Workload(d.Spec.Selector, d.Spec.Template))));

        public HashSet<string> SecretKeys(string name)
        {
            var s = Assert.Single(Of<V1Secret>(), s => s.Metadata.Name == name);
            return [.. (s.StringData?.Keys ?? []), .. (s.Data?.Keys ?? [])];
        }

        public HashSet<string> ConfigMapKeys(string name) => [.. Assert.Single(Of<V1ConfigMap>(), m => m.Metadata.Name == name).Data.Keys];
    }

    private sealed record Workload(V1LabelSelector Selector, V1PodTemplateSpec Template);
}

/// <summary>
/// The part of kustomize these manifests use: <c>resources</c> (files and directories),
/// <c>patches</c> with a <c>path</c> (strategic merge: maps merge, lists of named items merge by
/// name, other values are replaced; the target is found by kind and name) and <c>namespace</c>.
/// Anything else in a kustomization fails the build, so a manifest cannot silently rely on more.
/// </summary>
public static class Kustomize
{
    private static readonly HashSet<string> Understood = ["apiVersion", "kind", "resources", "patches", "namespace"];

    public static List<YamlMappingNode> Build(string dir)
    {
        var file = Path.Combine(dir, "kustomization.yaml");
        Assert.True(File.Exists(file), $"{dir}: no kustomization.yaml");
        var k = LoadFile(file).Single();
        foreach (var key in k.Children.Keys.Select(n => n.ToString())) Assert.Contains(key, Understood);

        var listed = new HashSet<string>(StringComparer.Ordinal) { Path.GetFullPath(file) };
        var docs = new List<YamlMappingNode>();
        foreach (var entry in Sequence(k, "resources"))
        {
            var path = Path.GetFullPath(Path.Combine(dir, entry));
            listed.Add(path);
            if (Directory.Exists(path)) docs.AddRange(Build(path));
            else
            {
                Assert.True(File.Exists(path), $"{file}: resource {entry} does not exist");
                docs.AddRange(LoadFile(path));
            }
        }
        if (k.Children.TryGetValue(new YamlScalarNode("patches"), out var patches))
        {
            foreach (var patch in ((YamlSequenceNode)patches).Children.Cast<YamlMappingNode>())
            {
                var entry = patch.Children[new YamlScalarNode("path")].ToString();
                var path = Path.GetFullPath(Path.Combine(dir, entry));
                Assert.True(File.Exists(path), $"{file}: patch {entry} does not exist");
                listed.Add(path);
                foreach (var p in LoadFile(path))
                {
                    var target = Assert.Single(docs, d => Scalar(d, "kind") == Scalar(p, "kind") && Name(d) == Name(p));
                    Merge(target, p);
                }
            }
        }
        if (k.Children.TryGetValue(new YamlScalarNode("namespace"), out var ns))
        {
            foreach (var d in docs) ((YamlMappingNode)d.Children[new YamlScalarNode("metadata")]).Children[new YamlScalarNode("namespace")] = new YamlScalarNode(ns.ToString());
        }
        // Every manifest in the folder is used: a file left out of the kustomization is a mistake.
        foreach (var f in Directory.GetFiles(dir, "*.yaml").Concat(Directory.GetFiles(dir, "*.yml")))
        {
            Assert.True(listed.Contains(Path.GetFullPath(f)), $"{f} is not listed in {file}");
        }
        return docs;
    }

    /// <summary>Strategic merge of <paramref name="patch"/> into <paramref name="target"/>.</summary>
    public static void Merge(YamlMappingNode target, YamlMappingNode patch)
    {
        foreach (var (key, value) in patch.Children)
        {
            if (!target.Children.TryGetValue(key, out var existing))
            {
                target.Children[key] = value;
                continue;
            }
            switch (existing, value)
            {
                case (YamlMappingNode t, YamlMappingNode p):
                    Merge(t, p);
                    break;
                case (YamlSequenceNode t, YamlSequenceNode p) when IsNamedList(t) && IsNamedList(p):
                    foreach (var item in p.Children.Cast<YamlMappingNode>())
                    {
                        var same = t.Children.Cast<YamlMappingNode>().FirstOrDefault(x => Scalar(x, "name") == Scalar(item, "name"));
                        if (same is null) t.Children.Add(item);
                        else Merge(same, item);
                    }
                    break;
                default:
                    target.Children[key] = value;
                    break;
            }
        }
    }

    public static string Text(IEnumerable<YamlMappingNode> docs)
    {
        var stream = new YamlStream(docs.Select(d => new YamlDocument(d)));
        using var w = new StringWriter();
        stream.Save(w, assignAnchors: false);
        return w.ToString();
    }

    private static bool IsNamedList(YamlSequenceNode s) =>
        s.Children.Count > 0 && s.Children.All(c => c is YamlMappingNode m && m.Children.ContainsKey(new YamlScalarNode("name")));

    private static List<YamlMappingNode> LoadFile(string path)
    {
        var stream = new YamlStream();
        using (var r = File.OpenText(path)) stream.Load(r);
        return stream.Documents.Where(d => d.RootNode is YamlMappingNode { Children.Count: > 0 }).Select(d => (YamlMappingNode)d.RootNode).ToList();
    }

    private static IEnumerable<string> Sequence(YamlMappingNode m, string key) =>
        m.Children.TryGetValue(new YamlScalarNode(key), out var s) ? ((YamlSequenceNode)s).Children.Select(c => c.ToString()) : [];

    private static string? Scalar(YamlMappingNode m, string key) =>
        m.Children.TryGetValue(new YamlScalarNode(key), out var v) ? (v as YamlScalarNode)?.Value : null;

    private static string? Name(YamlMappingNode m) =>
        m.Children.TryGetValue(new YamlScalarNode("metadata"), out var meta) ? Scalar((YamlMappingNode)meta, "name") : null;
}
