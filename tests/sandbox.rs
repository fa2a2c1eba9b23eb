//! `csc-rfc2136 sandbox` works as its own instructions say: the nsupdate command it prints
//! adds a value that the simulated CSC then serves over DNS.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn the_printed_nsupdate_command_works() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_csc-rfc2136"))
        .args([
            "sandbox",
            "--dns",
            "127.0.0.1:0",
            "--sim-dns",
            "127.0.0.1:0",
            "--sim-http",
            "127.0.0.1:0",
            "--edit-seconds",
            "1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut text = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        text.push_str(&line);
        text.push('\n');
        if line.starts_with("Ctrl-C stops") {
            break;
        }
    }
    let ready = text.lines().next().unwrap_or_default().to_owned();
    assert!(ready.starts_with("sandbox ready:"), "{text}");
    let sim_dns = ready
        .split("sim dns=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no sim dns= in {ready}"))
        .to_owned();
    // Step 1 of the instructions, as printed: the nsupdate line and its script.
    let step = text.split("# 1.").nth(1).expect("step 1");
    let key_arg = step
        .split_whitespace()
        .skip_while(|w| *w != "-y")
        .nth(1)
        .expect("nsupdate -y ...")
        .to_owned();
    let script: String = step
        .lines()
        .skip_while(|l| !l.starts_with("server "))
        .take_while(|l| *l != "EOF")
        .map(|l| format!("{l}\n"))
        .collect();
    let mut nsupdate = Command::new("nsupdate")
        .args(["-y", &key_arg])
        .stdin(Stdio::piped())
        .spawn()
        .expect("nsupdate is installed");
    std::io::Write::write_all(&mut nsupdate.stdin.take().unwrap(), script.as_bytes()).unwrap();
    assert!(
        nsupdate.wait().unwrap().success(),
        "nsupdate failed with {script}"
    );

    let (host, port) = sim_dns.rsplit_once(':').unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let dig = Command::new("dig")
            .args([
                &format!("@{host}"),
                "-p",
                port,
                "TXT",
                "_acme-challenge.example.com",
                "+short",
            ])
            .output()
            .expect("dig is installed");
        if String::from_utf8_lossy(&dig.stdout).contains("hello-from-the-sandbox") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the value never reached the simulated CSC"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let _ = child.kill();
    let _ = child.wait();
}
