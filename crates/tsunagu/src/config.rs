//! Settings from, in order of precedence: command-line flags, `TSUNAGU_*` environment
//! variables, the TOML config file, built-in defaults.

use anyhow::{bail, Context, Result};
use clap::Args;
use media::PortRange;
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

#[derive(Debug, Args, Default)]
pub struct ServeArgs {
    /// TOML file with any of the settings below (flags and environment override it).
    #[arg(long, env = "TSUNAGU_CONFIG")]
    pub config: Option<PathBuf>,
    /// Directory for the embedded database and recordings [default: ./data].
    #[arg(long, env = "TSUNAGU_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database URL; default is SQLite in the data directory. Example: postgres://user@host/db
    #[arg(long, env = "TSUNAGU_DATABASE_URL")]
    pub database_url: Option<String>,
    /// HTTP listen address [default: 127.0.0.1:8080].
    #[arg(long, env = "TSUNAGU_HTTP_ADDR")]
    pub http_addr: Option<SocketAddr>,
    /// SIP listen address (UDP and TCP) [default: 127.0.0.1:5060].
    #[arg(long, env = "TSUNAGU_SIP_ADDR")]
    pub sip_addr: Option<SocketAddr>,
    /// SIP over TLS listen address, with the --tls-cert certificate; only with a certificate
    /// [default: the --sip-addr host, port 5061, when --tls-cert is given].
    #[arg(long, env = "TSUNAGU_SIP_TLS_ADDR")]
    pub sip_tls_addr: Option<SocketAddr>,
    /// SIP digest realm [default: tsunagu].
    #[arg(long, env = "TSUNAGU_SIP_REALM")]
    pub sip_realm: Option<String>,
    /// Challenge phones with MD5 only, not SHA-256 and MD5 (for phones that fail on a challenge
    /// they cannot answer instead of picking the one they can, such as baresip 1.0).
    #[arg(long, env = "TSUNAGU_SIP_MD5_ONLY")]
    pub sip_md5_only: bool,
    /// Address written into SDP and Contact headers, when peers must reach another address than
    /// the one SIP listens on (NAT) [default: the SIP listen address].
    #[arg(long, env = "TSUNAGU_PUBLIC_IP")]
    pub public_ip: Option<IpAddr>,
    /// UDP port range for RTP/RTCP, LO-HI [default: 10000-20000].
    #[arg(long, env = "TSUNAGU_RTP_PORTS")]
    pub rtp_ports: Option<PortRange>,
    /// Directory of the built web app [default: web/dist].
    #[arg(long, env = "TSUNAGU_WEB_DIR")]
    pub web_dir: Option<PathBuf>,
    /// Load the demo call center into an empty database (not for production).
    #[arg(long, env = "TSUNAGU_DEMO")]
    pub demo: bool,
    /// Mark session cookies Secure (serve over HTTPS, e.g. behind a TLS proxy).
    #[arg(long, env = "TSUNAGU_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// This server's name in the database: after a crash its calls in flight are closed at
    /// its last heartbeat. Servers sharing one database need different names [default: local].
    #[arg(long, env = "TSUNAGU_NODE")]
    pub node: Option<String>,
    /// Minutes after which an account locked by failed logins unlocks by itself; 0 keeps it
    /// locked until an administrator unlocks it [default: 30].
    #[arg(long, env = "TSUNAGU_LOCK_RELEASE_MINUTES")]
    pub lock_release_minutes: Option<u64>,
    /// Serve HTTPS (and WSS) with this PEM certificate chain; read again when it changes.
    /// Needs --tls-key [default: plain HTTP].
    #[arg(long, env = "TSUNAGU_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "TSUNAGU_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Reverse proxies whose X-Forwarded-For is believed, comma-separated addresses or CIDR
    /// ranges (e.g. 10.0.0.0/8,::1) [default: none].
    #[arg(long, env = "TSUNAGU_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Option<Vec<api::IpNet>>,
}

/// The config file: the same names as the flags, with underscores.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    http_addr: Option<SocketAddr>,
    sip_addr: Option<SocketAddr>,
    sip_tls_addr: Option<SocketAddr>,
    rtp_ports: Option<PortRange>,
    sip_realm: Option<String>,
    sip_md5_only: Option<bool>,
    public_ip: Option<IpAddr>,
    web_dir: Option<PathBuf>,
    demo: Option<bool>,
    secure_cookies: Option<bool>,
    node: Option<String>,
    lock_release_minutes: Option<u64>,
    trusted_proxies: Option<Vec<String>>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub http_addr: SocketAddr,
    pub sip_addr: SocketAddr,
    /// SIP over TLS, with the certificate of `tls`; set exactly when `tls` is.
    pub sip_tls_addr: Option<SocketAddr>,
    pub rtp_ports: PortRange,
    pub sip_realm: String,
    pub sip_md5_only: bool,
    pub public_ip: Option<IpAddr>,
    pub web_dir: PathBuf,
    pub demo: bool,
    pub secure_cookies: bool,
    pub node: String,
    /// `None`: automatic locks stay until an administrator lifts them.
    pub lock_release: Option<std::time::Duration>,
    pub trusted_proxies: Vec<api::IpNet>,
    /// HTTPS on `http_addr` when set.
    pub tls: Option<api::tls::TlsFiles>,
}

impl Config {
    pub fn resolve(args: ServeArgs) -> Result<Config> {
        let file = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading config file {}", path.display()))?;
                toml::from_str::<FileConfig>(&text)
                    .with_context(|| format!("parsing config file {}", path.display()))?
            }
            None => FileConfig::default(),
        };
        let sip_addr = args
            .sip_addr
            .or(file.sip_addr)
            .unwrap_or(([127, 0, 0, 1], 5060).into());
        let tls = match (
            args.tls_cert.or(file.tls_cert),
            args.tls_key.or(file.tls_key),
        ) {
            (Some(cert), Some(key)) => Some(api::tls::TlsFiles { cert, key }),
            (None, None) => None,
            _ => bail!(
                "--tls-cert and --tls-key go together: give both for HTTPS, or neither \
                 for plain HTTP"
            ),
        };
        let sip_tls_addr = match (args.sip_tls_addr.or(file.sip_tls_addr), &tls) {
            (Some(addr), Some(_)) => Some(addr),
            // RFC 3261 §26.3.1's port for sips.
            (None, Some(_)) => Some(SocketAddr::new(sip_addr.ip(), 5061)),
            (Some(_), None) => {
                bail!("--sip-tls-addr needs a certificate: give --tls-cert and --tls-key as well")
            }
            (None, None) => None,
        };
        let config = Config {
            data_dir: args
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(|| "data".into()),
            database_url: args.database_url.or(file.database_url),
            http_addr: args
                .http_addr
                .or(file.http_addr)
                .unwrap_or(([127, 0, 0, 1], 8080).into()),
            sip_addr,
            sip_tls_addr,
            rtp_ports: args.rtp_ports.or(file.rtp_ports).unwrap_or_default(),
            sip_realm: args
                .sip_realm
                .or(file.sip_realm)
                .unwrap_or_else(|| "tsunagu".into()),
            sip_md5_only: args.sip_md5_only || file.sip_md5_only.unwrap_or(false),
            public_ip: args.public_ip.or(file.public_ip),
            web_dir: args
                .web_dir
                .or(file.web_dir)
                .unwrap_or_else(|| "web/dist".into()),
            demo: args.demo || file.demo.unwrap_or(false),
            secure_cookies: args.secure_cookies || file.secure_cookies.unwrap_or(false),
            node: args
                .node
                .or(file.node)
                .filter(|n| !n.trim().is_empty())
                .unwrap_or_else(|| "local".into()),
            lock_release: match args
                .lock_release_minutes
                .or(file.lock_release_minutes)
                .unwrap_or(30)
            {
                0 => None,
                m => Some(std::time::Duration::from_secs(m.saturating_mul(60))),
            },
            trusted_proxies: match (args.trusted_proxies, file.trusted_proxies) {
                (Some(flag), _) => flag,
                (None, Some(list)) => list
                    .iter()
                    .map(|s| s.parse::<api::IpNet>())
                    .collect::<std::result::Result<_, _>>()
                    .map_err(anyhow::Error::msg)
                    .context("trusted_proxies in the config file")?,
                (None, None) => Vec::new(),
            },
            tls,
        };
        if config.http_addr == config.sip_addr && config.http_addr.port() != 0 {
            bail!("--http-addr and --sip-addr must differ");
        }
        if config.sip_tls_addr == Some(config.http_addr) && config.http_addr.port() != 0 {
            bail!("--http-addr and --sip-tls-addr must differ");
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_file_and_defaults_fill_the_rest() {
        let dir = std::env::temp_dir().join(format!("tsunagu-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("t.toml");
        std::fs::write(
            &file,
            "http_addr = \"127.0.0.1:9000\"\nrtp_ports = \"30000-30099\"\ndata_dir = \"/tmp/x\"\n",
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(file.clone()),
            data_dir: Some("/tmp/y".into()),
            ..Default::default()
        };
        let c = Config::resolve(args).unwrap();
        assert_eq!(c.http_addr.port(), 9000);
        assert_eq!(c.rtp_ports.to_string(), "30000-30099");
        assert_eq!(c.data_dir, PathBuf::from("/tmp/y"));
        assert_eq!(c.sip_addr.port(), 5060);
        assert_eq!(c.lock_release, Some(std::time::Duration::from_secs(1800)));
        assert!(c.trusted_proxies.is_empty());

        std::fs::write(
            &file,
            "lock_release_minutes = 0\ntrusted_proxies = [\"10.0.0.0/8\", \"::1\"]\n",
        )
        .unwrap();
        let c = Config::resolve(ServeArgs {
            config: Some(file.clone()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(c.lock_release, None);
        assert!(c.tls.is_none());
        assert_eq!(c.trusted_proxies.len(), 2);
        std::fs::write(&file, "trusted_proxies = [\"10.0.0.0/99\"]\n").unwrap();
        let err = Config::resolve(ServeArgs {
            config: Some(file.clone()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(format!("{err:#}").contains("prefix length"), "{err:#}");

        std::fs::write(&file, "http_adr = \"127.0.0.1:9000\"\n").unwrap();
        let err = Config::resolve(ServeArgs {
            config: Some(file.clone()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(format!("{err:#}").contains("http_adr"), "{err:#}");
        std::fs::write(&file, "rtp_ports = \"9-1\"\n").unwrap();
        assert!(Config::resolve(ServeArgs {
            config: Some(file),
            ..Default::default()
        })
        .is_err());
    }

    #[test]
    fn sip_over_tls_comes_with_the_certificate_on_5061_unless_told() {
        let with_cert = || ServeArgs {
            sip_addr: Some("192.0.2.7:5070".parse().unwrap()),
            tls_cert: Some("cert.pem".into()),
            tls_key: Some("key.pem".into()),
            ..Default::default()
        };
        let c = Config::resolve(with_cert()).unwrap();
        assert_eq!(c.sip_tls_addr, Some("192.0.2.7:5061".parse().unwrap()));
        let c = Config::resolve(ServeArgs {
            sip_tls_addr: Some("0.0.0.0:5062".parse().unwrap()),
            ..with_cert()
        })
        .unwrap();
        assert_eq!(c.sip_tls_addr, Some("0.0.0.0:5062".parse().unwrap()));
        assert_eq!(
            Config::resolve(ServeArgs::default()).unwrap().sip_tls_addr,
            None
        );
        let err = Config::resolve(ServeArgs {
            sip_tls_addr: Some("0.0.0.0:5062".parse().unwrap()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(
            format!("{err:#}").contains("--sip-tls-addr needs a certificate"),
            "{err:#}"
        );
    }
}
