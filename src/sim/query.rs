//! Query strings, sorting and pagination for list endpoints (docs/hetzner-api.md §2).

use std::cmp::Ordering;

use percent_encoding::percent_decode_str;
use serde_json::{Value, json};

use super::error::ApiError;
use super::selector::{self, Selector};

/// Default `per_page` (Hetzner: 25).
pub(crate) const DEFAULT_PER_PAGE: u64 = 25;
/// Largest `per_page`; larger requests are clamped (the real API's behaviour is unverified).
pub(crate) const MAX_PER_PAGE: u64 = 50;

/// A decoded query string; keys may repeat (`?status=running&status=off`).
#[derive(Clone, Debug, Default)]
pub(crate) struct Query {
    pairs: Vec<(String, String)>,
    raw: String,
}

fn decode(s: &str) -> String {
    let plus = s.replace('+', " ");
    percent_decode_str(&plus).decode_utf8_lossy().into_owned()
}

impl Query {
    /// Parse `a=1&b=x%20y` (`+` is a space).
    pub fn parse(raw: Option<&str>) -> Query {
        let raw = raw.unwrap_or("");
        let pairs = raw
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (decode(k), decode(v)),
                None => (decode(p), String::new()),
            })
            .collect();
        Query {
            pairs,
            raw: raw.to_string(),
        }
    }

    /// First value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// All values of `key`, in order.
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The raw query with `page` and `per_page` replaced, for `Link` headers.
    fn with_page(&self, page: u64, per_page: u64) -> String {
        let mut parts: Vec<String> = self
            .raw
            .split('&')
            .filter(|p| !p.is_empty())
            .filter(|p| {
                let k = p.split('=').next().unwrap_or("");
                k != "page" && k != "per_page"
            })
            .map(str::to_string)
            .collect();
        parts.push(format!("page={page}"));
        parts.push(format!("per_page={per_page}"));
        parts.join("&")
    }

    /// Parsed `label_selector` (None when absent or empty). 422 `invalid_input` when invalid.
    pub fn selector(&self) -> Result<Option<Selector>, ApiError> {
        match self.get("label_selector") {
            None | Some("") => Ok(None),
            Some(s) => selector::parse(s)
                .map(Some)
                .map_err(|e| ApiError::invalid_field("label_selector", e.to_string())),
        }
    }

    /// A boolean parameter (`true`/`false`); absent → `default`.
    pub fn bool(&self, key: &str, default: bool) -> Result<bool, ApiError> {
        match self.get(key) {
            None => Ok(default),
            Some("true") | Some("1") => Ok(true),
            Some("false") | Some("0") => Ok(false),
            Some(_) => Err(ApiError::invalid_field(key, "must be true or false")),
        }
    }
}

/// Sort keys of list items.
#[derive(Clone, Debug, PartialEq, PartialOrd)]
pub(crate) enum SortKey {
    Int(i64),
    Str(String),
}

/// Sort `items` by the repeatable `sort` parameter (`field[:asc|:desc]`); `allowed` lists the
/// fields of this endpoint. Without `sort`, items are sorted by `id` ascending. Unknown fields
/// → 422 `invalid_input` on `sort`.
pub(crate) fn sort_items<T>(
    items: &mut [T],
    q: &Query,
    allowed: &[&str],
    key: impl Fn(&T, &str) -> SortKey,
) -> Result<(), ApiError> {
    let mut specs: Vec<(String, bool)> = Vec::new();
    for s in q.all("sort") {
        let (field, desc) = match s.split_once(':') {
            Some((f, "asc")) => (f, false),
            Some((f, "desc")) => (f, true),
            Some(_) => {
                return Err(ApiError::invalid_field(
                    "sort",
                    format!("invalid sort direction in '{s}'"),
                ));
            }
            None => (s, false),
        };
        if !allowed.contains(&field) {
            return Err(ApiError::invalid_field(
                "sort",
                format!(
                    "invalid sort field '{field}' (allowed: {})",
                    allowed.join(", ")
                ),
            ));
        }
        specs.push((field.to_string(), desc));
    }
    specs.push(("id".to_string(), false));
    items.sort_by(|a, b| {
        for (field, desc) in &specs {
            let o = key(a, field)
                .partial_cmp(&key(b, field))
                .unwrap_or(Ordering::Equal);
            let o = if *desc { o.reverse() } else { o };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    });
    Ok(())
}

/// One page of a list plus its `meta` and `Link` header value.
pub(crate) struct Page<T> {
    pub items: Vec<T>,
    pub meta: Value,
    pub link: Option<String>,
}

fn parse_u64(q: &Query, key: &str, default: u64) -> Result<u64, ApiError> {
    match q.get(key) {
        None | Some("") => Ok(default),
        Some(v) => v
            .parse::<u64>()
            .map_err(|_| ApiError::invalid_field(key, "must be a positive integer")),
    }
}

/// Cut `items` to the requested page. `page` defaults to 1, `per_page` to 25 and is clamped to
/// 1..=50. `base_url` is the absolute URL of the list (for the RFC 5988 `Link` header).
pub(crate) fn paginate<T>(items: Vec<T>, q: &Query, base_url: &str) -> Result<Page<T>, ApiError> {
    let page = parse_u64(q, "page", 1)?.max(1);
    let per_page = parse_u64(q, "per_page", DEFAULT_PER_PAGE)?.clamp(1, MAX_PER_PAGE);
    let total = items.len() as u64;
    let last_page = total.div_ceil(per_page).max(1);
    let start = ((page - 1).saturating_mul(per_page)).min(total) as usize;
    let end = (page.saturating_mul(per_page)).min(total) as usize;
    let previous_page = (page > 1).then(|| (page - 1).min(last_page));
    let next_page = (page < last_page).then_some(page + 1);
    let mut links = Vec::new();
    if let Some(p) = previous_page {
        links.push(format!(
            "<{base_url}?{}>; rel=\"prev\"",
            q.with_page(p, per_page)
        ));
    }
    if let Some(n) = next_page {
        links.push(format!(
            "<{base_url}?{}>; rel=\"next\"",
            q.with_page(n, per_page)
        ));
    }
    links.push(format!(
        "<{base_url}?{}>; rel=\"last\"",
        q.with_page(last_page, per_page)
    ));
    let items: Vec<T> = items
        .into_iter()
        .skip(start)
        .take(end.saturating_sub(start))
        .collect();
    Ok(Page {
        items,
        meta: json!({"pagination": {
            "page": page, "per_page": per_page, "previous_page": previous_page,
            "next_page": next_page, "last_page": last_page, "total_entries": total,
        }}),
        link: Some(links.join(", ")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decodes_and_repeats() {
        let q = Query::parse(Some(
            "status=running&status=off&label_selector=env%3Dprod%2C%21x&a=b+c",
        ));
        assert_eq!(q.all("status"), vec!["running", "off"]);
        assert_eq!(q.get("label_selector"), Some("env=prod,!x"));
        assert_eq!(q.get("a"), Some("b c"));
        assert_eq!(q.get("missing"), None);
    }

    #[test]
    fn pagination_meta_for_120_items() {
        let items: Vec<u32> = (0..120).collect();
        let q = Query::parse(Some("per_page=50"));
        let p = paginate(items.clone(), &q, "http://x/v1/servers").unwrap();
        assert_eq!(p.items.len(), 50);
        assert_eq!(
            p.meta,
            json!({"pagination": {"page": 1, "per_page": 50, "previous_page": null,
                   "next_page": 2, "last_page": 3, "total_entries": 120}})
        );
        let q = Query::parse(Some("per_page=50&page=3"));
        let p = paginate(items.clone(), &q, "http://x/v1/servers").unwrap();
        assert_eq!(p.items, (100..120).collect::<Vec<u32>>());
        assert_eq!(p.meta["pagination"]["next_page"], Value::Null);
        assert_eq!(p.meta["pagination"]["previous_page"], 2);
        assert_eq!(
            p.link.unwrap(),
            "<http://x/v1/servers?page=2&per_page=50>; rel=\"prev\", \
             <http://x/v1/servers?page=3&per_page=50>; rel=\"last\""
        );
        let q = Query::parse(Some("per_page=500"));
        let p = paginate(items, &q, "http://x").unwrap();
        assert_eq!(p.meta["pagination"]["per_page"], 50);
    }

    #[test]
    fn defaults_and_empty_list() {
        let p = paginate(Vec::<u8>::new(), &Query::default(), "http://x").unwrap();
        assert_eq!(
            p.meta,
            json!({"pagination": {"page": 1, "per_page": 25, "previous_page": null,
                   "next_page": null, "last_page": 1, "total_entries": 0}})
        );
        assert!(paginate(vec![1], &Query::parse(Some("page=x")), "http://x").is_err());
    }

    #[test]
    fn sorting_by_fields() {
        let mut v = vec![(1, "b"), (2, "a"), (3, "b")];
        let key = |t: &(i64, &str), f: &str| match f {
            "name" => SortKey::Str(t.1.to_string()),
            _ => SortKey::Int(t.0),
        };
        sort_items(
            &mut v,
            &Query::parse(Some("sort=name:asc")),
            &["id", "name"],
            key,
        )
        .unwrap();
        assert_eq!(v, vec![(2, "a"), (1, "b"), (3, "b")]);
        sort_items(
            &mut v,
            &Query::parse(Some("sort=name:desc&sort=id:desc")),
            &["id", "name"],
            key,
        )
        .unwrap();
        assert_eq!(v, vec![(3, "b"), (1, "b"), (2, "a")]);
        let e = sort_items(
            &mut v,
            &Query::parse(Some("sort=size")),
            &["id", "name"],
            key,
        )
        .unwrap_err();
        assert_eq!(e.status, 422);
    }
}
