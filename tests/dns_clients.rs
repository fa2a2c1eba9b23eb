//! The DNS front against the real clients, unchanged: BIND's nsupdate (UDP and TCP, with and
//! without a `zone` line, `-y` for each algorithm and `-k` on a BIND key file), Knot's
//! knsupdate, acme.sh's RRset delete, and dig's queries (plain, with EDNS, TSIG-signed).
//! Every positive case checks what the simulated CSC published, not only the exit status.

mod common;
mod dns_common;

use common::gateway::{GatewayProcess, TestKey};
use dns_common::{
    ZONE, assert_no_new_posts, assert_spf_intact, assert_success, dig, dig_flags, dig_section,
    dig_status, edit_posts, knsupdate, nsupdate, start_sim, text, wait_for_txt,
};

/// `update add _acme-challenge.<label>.example.com. 60 TXT "<value>"` (acme.sh's TTL).
fn add(label: &str, value: &str) -> String {
    format!("update add _acme-challenge.{label}.{ZONE}. 60 TXT \"{value}\"\n")
}

// Proves nsupdate works over UDP/TCP, with/without `zone`, for md5/sha1/sha256/sha512 and `-k`.
#[tokio::test]
async fn nsupdate_over_udp_and_tcp_with_every_key_form() {
    let sim = start_sim();
    let md5 = TestKey::new("md5-key.", "hmac-md5");
    let sha1 = TestKey::new("sha1-key.", "hmac-sha1");
    let sha256 = TestKey::new("sha256-key.", "hmac-sha256");
    let sha512 = TestKey::new("sha512-key.", "hmac-sha512");
    let filed = TestKey::new("file-key.", "hmac-sha256");
    let gateway = GatewayProcess::start(
        &sim,
        &[
            md5.clone(),
            sha1.clone(),
            sha256.clone(),
            sha512.clone(),
            filed.clone(),
        ],
        "",
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let key_file = dir.path().join("file-key.key");
    std::fs::write(
        &key_file,
        format!(
            "key \"{}\" {{\n\talgorithm {};\n\tsecret \"{}\";\n}};\n",
            filed.name, filed.algorithm, filed.secret
        ),
    )
    .expect("write the BIND key file");
    let key_file = key_file.display().to_string();
    let zone_line = format!("zone {ZONE}.\n");
    let md5_default = format!("{}:{}", md5.name, md5.secret); // `-y name:secret` → hmac-md5

    let y = |key: &TestKey| vec!["-y".to_owned(), key.nsupdate_arg()];
    let tcp = |args: Vec<String>| [vec!["-v".to_owned()], args].concat();
    let k = vec!["-k".to_owned(), key_file];
    // (label, nsupdate arguments, with a zone line)
    let cases: Vec<(&str, Vec<String>, bool)> = vec![
        ("md5-udp-zone", vec!["-y".to_owned(), md5_default], true),
        ("md5-udp", y(&md5), false),
        ("sha1-tcp-zone", tcp(y(&sha1)), true),
        ("sha1-udp", y(&sha1), false),
        ("sha256-udp-zone", y(&sha256), true),
        ("sha256-tcp", tcp(y(&sha256)), false),
        ("sha512-tcp-zone", tcp(y(&sha512)), true),
        ("sha512-udp", y(&sha512), false),
        ("keyfile-udp", k.clone(), false),
        ("keyfile-tcp-zone", tcp(k), true),
    ];
    for (label, args, with_zone) in &cases {
        let body = format!(
            "{}{}",
            if *with_zone { zone_line.as_str() } else { "" },
            add(label, label)
        );
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = nsupdate(&gateway, &args, &body);
        assert_success(&format!("nsupdate {label}"), &output);
    }
    for (label, _, _) in &cases {
        wait_for_txt(&sim, &format!("_acme-challenge.{label}"), &[label]).await;
    }

    // One TCP message deleting every value (class NONE), all or nothing.
    let deletes: String = cases
        .iter()
        .map(|(label, _, _)| {
            format!("update delete _acme-challenge.{label}.{ZONE}. TXT \"{label}\"\n")
        })
        .collect();
    let output = nsupdate(&gateway, &["-v", "-y", &sha256.nsupdate_arg()], &deletes);
    assert_success("nsupdate -v multi-name delete", &output);
    for (label, _, _) in &cases {
        wait_for_txt(&sim, &format!("_acme-challenge.{label}"), &[]).await;
    }
    assert_spf_intact(&sim).await;
}

// Proves knsupdate adds (UDP, TCP `-v`) and deletes by value and by RRset; an A record is refused.
#[tokio::test]
async fn knsupdate_adds_and_deletes_over_udp_and_tcp() {
    let sim = start_sim();
    let key = TestKey::new("knot-key.", "hmac-sha256");
    let gateway = GatewayProcess::start(&sim, std::slice::from_ref(&key), "");
    let zone_line = format!("zone {ZONE}.\n");
    let short = format!("{}:{}", key.name, key.secret);

    let udp = knsupdate(
        &gateway,
        &["-y", &key.nsupdate_arg()],
        &format!("{zone_line}{}", add("knot", "k-udp")),
    );
    assert_success("knsupdate (UDP)", &udp);
    let tcp = knsupdate(
        &gateway,
        &["-v", "-y", &short],
        &format!("{zone_line}{}", add("knot", "k-tcp")),
    );
    assert_success("knsupdate -v (TCP, default algorithm)", &tcp);
    let other = knsupdate(
        &gateway,
        &["-y", &short],
        &format!("{zone_line}{}", add("knot-other", "k-other")),
    );
    assert_success("knsupdate (second name)", &other);
    wait_for_txt(&sim, "_acme-challenge.knot", &["k-udp", "k-tcp"]).await;
    wait_for_txt(&sim, "_acme-challenge.knot-other", &["k-other"]).await;

    let one = knsupdate(
        &gateway,
        &["-y", &key.nsupdate_arg()],
        &format!("{zone_line}update del _acme-challenge.knot.{ZONE}. TXT \"k-udp\"\n"),
    );
    assert_success("knsupdate del with rdata", &one);
    let all = knsupdate(
        &gateway,
        &["-v", "-y", &key.nsupdate_arg()],
        &format!("{zone_line}update del _acme-challenge.knot-other.{ZONE}. TXT\n"),
    );
    assert_success("knsupdate del RRset", &all);
    wait_for_txt(&sim, "_acme-challenge.knot", &["k-tcp"]).await;
    wait_for_txt(&sim, "_acme-challenge.knot-other", &[]).await;

    // A refused change is reported as such by knsupdate and reaches nothing.
    let before = edit_posts(&sim).await.len();
    let refused = knsupdate(
        &gateway,
        &["-y", &key.nsupdate_arg()],
        &format!("{zone_line}update add www.{ZONE}. 60 A 192.0.2.1\n"),
    );
    assert!(
        !refused.status.success(),
        "an A record must be refused: {}",
        text(&refused)
    );
    assert!(
        text(&refused).contains("REFUSED"),
        "knsupdate names the rcode: {}",
        text(&refused)
    );
    assert_no_new_posts(&sim, before, "knsupdate A record").await;
    assert_spf_intact(&sim).await;
}

// Proves apex + wildcard values coexist and acme.sh's RRset delete spares foreign values and SPF.
#[tokio::test]
async fn acme_sh_two_values_then_rrset_delete_keeps_foreign_values() {
    let sim = start_sim();
    let key = TestKey::new("acme-sh.", "hmac-sha256");
    let gateway = GatewayProcess::start(&sim, std::slice::from_ref(&key), "");
    let y = key.nsupdate_arg();

    let foreign = sim
        .post_edit(&common::add_txt(
            ZONE,
            "_acme-challenge",
            "google-site-verification=foreign",
        ))
        .await;
    let id = common::edit_id(&foreign);
    sim.wait_for_status(&id, "COMPLETED", std::time::Duration::from_secs(20))
        .await;
    wait_for_txt(
        &sim,
        "_acme-challenge",
        &["google-site-verification=foreign"],
    )
    .await;

    // acme.sh sends one message per domain; apex and wildcard share the name.
    let name = format!("_acme-challenge.{ZONE}.");
    for token in ["apex-token", "wildcard-token"] {
        let output = nsupdate(
            &gateway,
            &["-y", &y],
            &format!("update add {name} 60 TXT \"{token}\"\n"),
        );
        assert_success("acme.sh add", &output);
    }
    wait_for_txt(
        &sim,
        "_acme-challenge",
        &[
            "google-site-verification=foreign",
            "apex-token",
            "wildcard-token",
        ],
    )
    .await;

    let output = nsupdate(
        &gateway,
        &["-y", &y],
        &format!("update delete {name} TXT\n"),
    );
    assert_success("acme.sh cleanup (RRset delete)", &output);
    wait_for_txt(
        &sim,
        "_acme-challenge",
        &["google-site-verification=foreign"],
    )
    .await;
    // Nothing further is on its way that could take the foreign value away.
    let posts = edit_posts(&sim).await.len();
    assert_no_new_posts(&sim, posts, "after the RRset delete").await;
    wait_for_txt(
        &sim,
        "_acme-challenge",
        &["google-site-verification=foreign"],
    )
    .await;
    assert_spf_intact(&sim).await;
}

// Proves prerequisites see pending values and no-op updates answer NOERROR without a CSC edit.
#[tokio::test]
async fn prerequisites_see_pending_values_and_repeats_are_silent() {
    let sim = start_sim();
    let key = TestKey::new("prereq-key.", "hmac-sha256");
    let gateway = GatewayProcess::start(&sim, std::slice::from_ref(&key), "");
    let y = key.nsupdate_arg();
    let name = format!("_acme-challenge.pending.{ZONE}.");

    assert_success(
        "add v1",
        &nsupdate(&gateway, &["-y", &y], &add("pending", "v1")),
    );
    let held = nsupdate(
        &gateway,
        &["-y", &y],
        &format!("prereq yxrrset {name} TXT \"v1\"\n{}", add("pending", "v2")),
    );
    assert_success("prereq on the pending value", &held);
    let failed = nsupdate(
        &gateway,
        &["-y", &y],
        &format!("prereq nxrrset {name} TXT\n{}", add("pending", "v3")),
    );
    assert!(!failed.status.success(), "{}", text(&failed));
    assert!(text(&failed).contains("YXRRSET"), "{}", text(&failed));
    wait_for_txt(&sim, "_acme-challenge.pending", &["v1", "v2"]).await;

    let before = edit_posts(&sim).await.len();
    for body in [
        add("pending", "v1"),
        format!("update delete {name} TXT \"never-there\"\n"),
        format!("update delete _acme-challenge.empty.{ZONE}. TXT\n"),
        format!("update delete _acme-challenge.empty.{ZONE}.\n"),
    ] {
        assert_success(&body, &nsupdate(&gateway, &["-y", &y], &body));
    }
    assert_no_new_posts(&sim, before, "no-op updates").await;
    wait_for_txt(&sim, "_acme-challenge.pending", &["v1", "v2"]).await;
    assert_spf_intact(&sim).await;
}

// Proves nsupdate reports BADSIG (wrong secret) and BADKEY (unknown key), and nothing reaches CSC.
#[tokio::test]
async fn nsupdate_reports_badsig_and_badkey() {
    let sim = start_sim();
    let key = TestKey::new("right-key.", "hmac-sha256");
    let gateway = GatewayProcess::start(&sim, std::slice::from_ref(&key), "");
    let wrong_secret = TestKey {
        secret: TestKey::new("x.", "hmac-sha256").secret,
        ..key.clone()
    };
    let unknown = TestKey {
        name: "unknown-key.".into(),
        ..key.clone()
    };
    let before = edit_posts(&sim).await.len();
    for zone_line in [format!("zone {ZONE}.\n"), String::new()] {
        for (bad, expected) in [(&wrong_secret, "BADSIG"), (&unknown, "BADKEY")] {
            let output = nsupdate(
                &gateway,
                &["-y", &bad.nsupdate_arg()],
                &format!("{zone_line}{}", add("bad", "x")),
            );
            assert!(
                !output.status.success(),
                "nsupdate must fail: {}",
                text(&output)
            );
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(
                stderr.contains(expected),
                "nsupdate names {expected}: {}",
                text(&output)
            );
        }
    }
    assert_no_new_posts(&sim, before, "BADSIG/BADKEY").await;
    assert!(sim.txt_values(ZONE, "_acme-challenge.bad").await.is_empty());
}

// Proves query answers (AA, NXDOMAIN/NODATA + SOA, REFUSED, EDNS, TC) and dig -y signed replies.
#[tokio::test]
async fn dig_answers_with_aa_edns_and_tsig() {
    let sim = start_sim();
    let key = TestKey::new("dig-key.", "hmac-sha256");
    let gateway = GatewayProcess::start(&sim, std::slice::from_ref(&key), "");

    let soa = dig(&gateway, &["SOA", ZONE]);
    assert_eq!(dig_status(&soa), "NOERROR", "{soa}");
    assert!(dig_flags(&soa).contains(&"aa"), "{soa}");
    let answer = dig_section(&soa, "ANSWER");
    assert_eq!(answer.len(), 1, "{soa}");
    assert!(
        answer[0].starts_with(&format!(
            "{ZONE}. 300 IN SOA ns1.{ZONE}. hostmaster.{ZONE}."
        )),
        "{soa}"
    );

    let ns = dig(&gateway, &["NS", ZONE]);
    assert!(dig_flags(&ns).contains(&"aa"), "{ns}");
    let mut hosts: Vec<String> = dig_section(&ns, "ANSWER")
        .iter()
        .map(|line| line.rsplit(' ').next().unwrap_or_default().to_owned())
        .collect();
    hosts.sort();
    assert_eq!(
        hosts,
        [format!("ns1.{ZONE}."), format!("ns2.{ZONE}.")],
        "{ns}"
    );

    let txt = dig(&gateway, &["TXT", ZONE]);
    assert!(dig_flags(&txt).contains(&"aa"), "{txt}");
    assert_eq!(dig_section(&txt, "ANSWER").len(), 1, "{txt}");
    assert!(
        txt.contains("\"v=spf1 include:_spf.example.com ~all\""),
        "{txt}"
    );

    // A value just accepted is answered before CSC has it (the desired view).
    let added = nsupdate(
        &gateway,
        &["-y", &key.nsupdate_arg()],
        &add("dig", "pending-value"),
    );
    assert_success("nsupdate", &added);
    let pending = dig(&gateway, &["TXT", &format!("_acme-challenge.dig.{ZONE}")]);
    assert_eq!(dig_status(&pending), "NOERROR", "{pending}");
    assert!(pending.contains("\"pending-value\""), "{pending}");
    wait_for_txt(&sim, "_acme-challenge.dig", &["pending-value"]).await;

    for (qtype, qname) in [
        ("TXT", format!("nope.{ZONE}")),
        ("SOA", format!("_acme-challenge.nope.{ZONE}")),
    ] {
        let nx = dig(&gateway, &[qtype, &qname]);
        assert_eq!(dig_status(&nx), "NXDOMAIN", "{nx}");
        assert!(dig_flags(&nx).contains(&"aa"), "{nx}");
        assert!(dig_section(&nx, "ANSWER").is_empty(), "{nx}");
        let authority = dig_section(&nx, "AUTHORITY");
        assert_eq!(authority.len(), 1, "{nx}");
        assert!(
            authority[0].starts_with(&format!("{ZONE}. 300 IN SOA ")),
            "{nx}"
        );
    }
    // An existing name below the apex: NODATA with the SOA in authority.
    let nodata = dig(&gateway, &["SOA", &format!("_acme-challenge.dig.{ZONE}")]);
    assert_eq!(dig_status(&nodata), "NOERROR", "{nodata}");
    assert!(dig_section(&nodata, "ANSWER").is_empty(), "{nodata}");
    assert!(
        dig_section(&nodata, "AUTHORITY")[0].starts_with(&format!("{ZONE}. 300 IN SOA ")),
        "{nodata}"
    );

    for outside in ["example.net", "com", "notexample.com"] {
        let refused = dig(&gateway, &["SOA", outside]);
        assert_eq!(dig_status(&refused), "REFUSED", "{refused}");
        assert!(!dig_flags(&refused).contains(&"aa"), "{refused}");
    }
    let axfr = run_dig_raw(&gateway, &["AXFR", ZONE]);
    assert!(
        axfr.contains("Transfer failed") || axfr.contains("REFUSED"),
        "{axfr}"
    );

    // EDNS: dig sends OPT by default and gets one back; +noedns gets none.
    let with_edns = dig(&gateway, &["SOA", ZONE]);
    assert!(with_edns.contains("OPT PSEUDOSECTION"), "{with_edns}");
    let without = dig(&gateway, &["+noedns", "SOA", ZONE]);
    assert!(!without.contains("OPT PSEUDOSECTION"), "{without}");
    assert_eq!(dig_status(&without), "NOERROR", "{without}");

    // Signed queries: dig -y verifies the reply itself and complains when it cannot.
    let y = key.nsupdate_arg();
    for extra in [&[][..], &["+noedns"][..], &["+tcp"][..]] {
        let mut args = vec!["-y", y.as_str()];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["SOA", ZONE]);
        let signed = dig(&gateway, &args);
        assert_eq!(dig_status(&signed), "NOERROR", "{signed}");
        assert!(dig_flags(&signed).contains(&"aa"), "{signed}");
        assert!(
            signed.contains("TSIG PSEUDOSECTION"),
            "the reply is signed: {signed}"
        );
        assert!(!signed.contains("Couldn't verify"), "{signed}");
        assert!(!signed.contains("could not be validated"), "{signed}");
        let tsig = tsig_line(&signed);
        assert!(
            tsig.starts_with(&format!("{} 0 ANY TSIG hmac-sha256. ", key.name)),
            "{signed}"
        );
        assert!(
            tsig.ends_with(" NOERROR 0"),
            "no TSIG error, no other data: {signed}"
        );
    }
    // UDP size: TC only when the reply does not fit 512 bytes (or the EDNS size); TCP gets all.
    let long = |n: usize| format!("{n}{}", "v".repeat(149));
    let mut body = String::new();
    for n in 0..2 {
        body.push_str(&add("two", &long(n)));
    }
    for n in 0..4 {
        body.push_str(&add("four", &long(n)));
    }
    assert_success(
        "nsupdate (long values)",
        &nsupdate(&gateway, &["-y", &y], &body),
    );
    let two = format!("_acme-challenge.two.{ZONE}");
    let four = format!("_acme-challenge.four.{ZONE}");
    // Two values make a ~375-byte reply: it fits 512 bytes, signed or not.
    for signed in [false, true] {
        let mut args = if signed {
            vec!["-y", y.as_str()]
        } else {
            vec![]
        };
        args.extend_from_slice(&["+noedns", "+ignore", "TXT", &two]);
        let fits = dig(&gateway, &args);
        assert!(
            !dig_flags(&fits).contains(&"tc"),
            "a reply under 512 bytes is not truncated: {fits}"
        );
        assert_eq!(dig_section(&fits, "ANSWER").len(), 2, "{fits}");
    }
    // Four make ~700 bytes: TC without EDNS (and dig's TCP retry gets them all), whole with EDNS.
    let truncated = dig(&gateway, &["+noedns", "+ignore", "TXT", &four]);
    assert!(dig_flags(&truncated).contains(&"tc"), "{truncated}");
    assert!(dig_section(&truncated, "ANSWER").is_empty(), "{truncated}");
    let retried = dig(&gateway, &["+noedns", "TXT", &four]);
    assert!(retried.contains("(TCP)"), "{retried}");
    assert_eq!(dig_section(&retried, "ANSWER").len(), 4, "{retried}");
    let roomy = dig(&gateway, &["+bufsize=1232", "+ignore", "TXT", &four]);
    assert!(!dig_flags(&roomy).contains(&"tc"), "{roomy}");
    assert_eq!(dig_section(&roomy, "ANSWER").len(), 4, "{roomy}");

    let wrong = TestKey {
        secret: TestKey::new("x.", "hmac-sha256").secret,
        ..key.clone()
    };
    let bad = run_dig_raw(&gateway, &["-y", &wrong.nsupdate_arg(), "SOA", ZONE]);
    assert!(bad.contains("status: NOTAUTH"), "{bad}");
    let tsig = tsig_line(&bad);
    assert!(
        tsig.contains(" 0 BADSIG 0") || tsig.contains(" BADSIG "),
        "{bad}"
    );
    assert!(
        tsig.contains(" 300 0 "),
        "BADSIG replies carry no MAC: {bad}"
    );
    assert_spf_intact(&sim).await;
}

/// The TSIG pseudo-record of a dig output, whitespace-normalized (empty when there is none).
fn tsig_line(output: &str) -> String {
    output
        .split(";; TSIG PSEUDOSECTION:\n")
        .nth(1)
        .and_then(|rest| rest.lines().next())
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// dig's stdout and stderr together (for the cases where dig itself reports a failure).
fn run_dig_raw(gateway: &GatewayProcess, args: &[&str]) -> String {
    let port = gateway.port();
    let mut all = vec!["@127.0.0.1", "-p", &port, "+norec", "+time=3", "+tries=1"];
    all.extend_from_slice(args);
    text(&dns_common::run("dig", &all, ""))
}
