//! Reading a Prometheus text exposition: what `GET /metrics` answers.

use std::collections::BTreeMap;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One scrape: every sample, by metric name and labels.
#[derive(Debug)]
pub struct Scrape {
    pub text: String,
    samples: Vec<(String, BTreeMap<String, String>, f64)>,
}

impl Scrape {
    /// Parses the text format's sample lines (`name{a="x",b="y"} value`).
    pub fn parse(text: &str) -> Self {
        let samples = text
            .lines()
            .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
            .map(|line| {
                let (series, value) = line
                    .rsplit_once(' ')
                    .unwrap_or_else(|| panic!("sample line: {line}"));
                let value: f64 = value.parse().unwrap_or_else(|_| panic!("sample value: {line}"));
                let (name, labels) = match series.split_once('{') {
                    None => (series, BTreeMap::new()),
                    Some((name, rest)) => (name, labels(rest.trim_end_matches('}'))),
                };
                (name.to_owned(), labels, value)
            })
            .collect();
        Self {
            text: text.to_owned(),
            samples,
        }
    }

    /// The value of the sample `name` with exactly `labels`, if there is one.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let wanted: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.samples
            .iter()
            .find(|(n, l, _)| n == name && *l == wanted)
            .map(|(_, _, v)| *v)
    }

    /// The value of the sample `name` with exactly `labels`; panics, showing
    /// the scrape, when there is none.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.get(name, labels)
            .unwrap_or_else(|| panic!("no sample {name} {labels:?} in:\n{}", self.text))
    }
}

/// `a="x",b="y"` (values without `"` or `,`: the label values of these tests).
fn labels(text: &str) -> BTreeMap<String, String> {
    text.split(',')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or_else(|| panic!("label: {pair}"));
            (key.to_owned(), value.trim_matches('"').to_owned())
        })
        .collect()
}

/// `GET path` on the server at `url`: the status, the content type and the scrape.
pub async fn scrape(url: &str, path: &str) -> (u16, String, Scrape) {
    let addr = url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("http connect");
    let request = format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("http write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("http read");
    let status = response[9..12].parse().expect("status code");
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let content_type = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-type")
                .then(|| value.trim().to_owned())
        })
        .unwrap_or_default();
    (status, content_type, Scrape::parse(body))
}
