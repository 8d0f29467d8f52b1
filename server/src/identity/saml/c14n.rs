//! Exclusive XML canonicalization without comments
//! (<http://www.w3.org/2001/10/xml-exc-c14n#>) of one element's subtree, as XML
//! signatures over SAML messages use it: namespace declarations only where a
//! prefix is visibly used (or named in the `InclusiveNamespaces` prefix list) and
//! not already declared alike by an output ancestor, attributes sorted by
//! namespace URI and local name, comments dropped, characters escaped as the
//! recommendation says. One element (the enveloped `Signature`) can be left out.
//!
//! Prefixes are read from the source text (`roxmltree` resolves them away), so the
//! document must be the one parsed from `src`.

use roxmltree::{Node, NodeId};

/// What to canonicalize and how.
pub struct Options<'a> {
    /// The element left out with its subtree (enveloped-signature transform).
    pub exclude: Option<NodeId>,
    /// Prefixes treated as in inclusive canonicalization (`#default` is `""`).
    pub inclusive_prefixes: &'a [String],
}

/// The canonical form of `apex` and its descendants.
pub fn canonicalize(src: &str, apex: Node<'_, '_>, opts: &Options<'_>) -> String {
    let mut out = String::with_capacity(apex.range().len());
    element(src, apex, &[], opts, &mut out);
    out
}

/// The prefix of a qualified name as written (`""` for none).
fn prefix_of(qname: &str) -> &str {
    qname.split_once(':').map(|(p, _)| p).unwrap_or("")
}

/// The element's name as written in the source.
fn raw_qname<'s>(src: &'s str, node: Node<'_, '_>) -> &'s str {
    let rest = src.get(node.range().start + 1..).unwrap_or("");
    let end = rest
        .find(|c: char| c.is_ascii_whitespace() || c == '>' || c == '/')
        .unwrap_or(rest.len());
    &rest[..end]
}

/// The namespace `prefix` means on `node` (`""` for an undeclared default).
fn in_scope<'n>(node: Node<'n, '_>, prefix: &str) -> Option<&'n str> {
    node.namespaces()
        .find(|ns| ns.name().unwrap_or("") == prefix)
        .map(|ns| ns.uri())
}

fn element(
    src: &str,
    node: Node<'_, '_>,
    rendered: &[(String, String)],
    opts: &Options<'_>,
    out: &mut String,
) {
    let qname = raw_qname(src, node);
    // Prefixes visibly used: the element's own (the default one when unprefixed)
    // and its prefixed attributes' (unprefixed attributes use no namespace).
    let mut used: Vec<String> = vec![prefix_of(qname).to_string()];
    let mut attrs: Vec<(&str, &str, &str, String)> = Vec::new();
    for a in node.attributes() {
        let aq = src.get(a.range_qname()).unwrap_or(a.name());
        let p = prefix_of(aq);
        if !p.is_empty() && p != "xml" && !used.iter().any(|u| u == p) {
            used.push(p.to_string());
        }
        attrs.push((
            a.namespace().unwrap_or(""),
            a.name(),
            a.value(),
            aq.to_string(),
        ));
    }
    for p in opts.inclusive_prefixes {
        let p = if p == "#default" { "" } else { p.as_str() };
        if !used.iter().any(|u| u == p) && in_scope(node, p).is_some() {
            used.push(p.to_string());
        }
    }
    let mut decls: Vec<(String, String)> = Vec::new();
    for p in used {
        if p == "xml" {
            continue;
        }
        let uri = in_scope(node, &p).unwrap_or("");
        let before = rendered.iter().rev().find(|(rp, _)| *rp == p);
        let needed = match before {
            Some((_, u)) => u != uri,
            // An empty default namespace needs no declaration unless an output
            // ancestor declared a non-empty one.
            None => !uri.is_empty() || !p.is_empty(),
        };
        if needed && !(p.is_empty() && uri.is_empty() && before.is_none()) {
            decls.push((p, uri.to_string()));
        }
    }
    decls.sort();
    attrs.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    out.push('<');
    out.push_str(qname);
    for (p, uri) in &decls {
        if p.is_empty() {
            out.push_str(" xmlns=\"");
        } else {
            out.push_str(" xmlns:");
            out.push_str(p);
            out.push_str("=\"");
        }
        escape_attr(uri, out);
        out.push('"');
    }
    for (_, _, value, aq) in &attrs {
        out.push(' ');
        out.push_str(aq);
        out.push_str("=\"");
        escape_attr(value, out);
        out.push('"');
    }
    out.push('>');
    let mut scope: Vec<(String, String)> = rendered.to_vec();
    scope.extend(decls);
    for child in node.children() {
        if Some(child.id()) == opts.exclude {
            continue;
        }
        if child.is_element() {
            element(src, child, &scope, opts, out);
        } else if child.is_text() {
            escape_text(child.text().unwrap_or(""), out);
        } else if child.is_pi() {
            if let Some(pi) = child.pi() {
                out.push_str("<?");
                out.push_str(pi.target);
                if let Some(v) = pi.value {
                    out.push(' ');
                    out.push_str(v);
                }
                out.push_str("?>");
            }
        }
    }
    out.push_str("</");
    out.push_str(qname);
    out.push('>');
}

fn escape_text(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

fn escape_attr(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c14n(src: &str, path: &[&str]) -> String {
        let doc = roxmltree::Document::parse(src).expect("parse");
        let mut node = doc.root_element();
        for name in path {
            node = node
                .children()
                .find(|c| c.is_element() && c.tag_name().name() == *name)
                .expect("child");
        }
        canonicalize(
            src,
            node,
            &Options {
                exclude: None,
                inclusive_prefixes: &[],
            },
        )
    }

    /// Exclusive C14N recommendation, section 2.2's example: the unused `n1`
    /// namespace of the ancestor is not carried into the subtree.
    #[test]
    fn exc_c14n_spec_example() {
        let src = r#"<n0:local xmlns:n0="foo:bar" xmlns:n3="ftp://example.org"><n1:elem2 xmlns:n1="http://example.net" xml:lang="en"><n3:stuff xmlns:n3="ftp://example.org"/></n1:elem2></n0:local>"#;
        assert_eq!(
            c14n(src, &["elem2"]),
            r#"<n1:elem2 xmlns:n1="http://example.net" xml:lang="en"><n3:stuff xmlns:n3="ftp://example.org"></n3:stuff></n1:elem2>"#
        );
        let src2 = r#"<n2:pdu xmlns:n1="http://example.com" xmlns:n2="http://foo.example" xml:lang="fr" xml:space="retain"><n1:elem2 xmlns:n1="http://example.net" xml:lang="en"><n3:stuff xmlns:n3="ftp://example.org"/></n1:elem2></n2:pdu>"#;
        assert_eq!(
            c14n(src2, &["elem2"]),
            r#"<n1:elem2 xmlns:n1="http://example.net" xml:lang="en"><n3:stuff xmlns:n3="ftp://example.org"></n3:stuff></n1:elem2>"#
        );
    }

    /// Canonical XML 1.0, section 3.x examples (the parts exclusive C14N shares):
    /// attribute order, empty elements, character escapes, comments removed,
    /// superfluous and default namespace declarations.
    #[test]
    fn c14n_spec_vectors() {
        let src = "<doc>\r\n<!-- comment --><e1   /><e2   ></e2><e3   name = \"elem3\"   id=\"elem3\"   /><e5 a:attr=\"out\" b:attr=\"sorted\" attr2=\"all\" attr=\"I'm\" xmlns:b=\"http://www.ietf.org\" xmlns:a=\"http://www.w3.org\" xmlns=\"http://example.org\"/><e6 xmlns=\"\" xmlns:a=\"http://www.w3.org\"><e7 xmlns=\"http://www.ietf.org\"><e8 xmlns=\"\" xmlns:a=\"http://www.w3.org\"><e9 xmlns=\"\" xmlns:a=\"http://www.ietf.org\"/></e8></e7></e6><t>A &amp; B &lt; C &gt; \"q\" &#xD;</t><a v=\"x&#9;y&#10;z &quot;&lt;&amp;\"/></doc>";
        let out = c14n(src, &[]);
        assert_eq!(
            out,
            "<doc>\n<e1></e1><e2></e2><e3 id=\"elem3\" name=\"elem3\"></e3><e5 xmlns=\"http://example.org\" xmlns:a=\"http://www.w3.org\" xmlns:b=\"http://www.ietf.org\" attr=\"I'm\" attr2=\"all\" b:attr=\"sorted\" a:attr=\"out\"></e5><e6><e7 xmlns=\"http://www.ietf.org\"><e8 xmlns=\"\"><e9></e9></e8></e7></e6><t>A &amp; B &lt; C &gt; \"q\" &#xD;</t><a v=\"x&#x9;y&#xA;z &quot;&lt;&amp;\"></a></doc>"
        );
    }

    /// A namespace used by an ancestor of the apex is declared on the apex, and a
    /// prefix from the inclusive list is carried even though unused.
    #[test]
    fn apex_gets_inherited_namespaces_it_uses() {
        let src = r#"<samlp:Response xmlns:samlp="urn:p" xmlns:saml="urn:a" xmlns:xs="urn:xs"><saml:Assertion ID="a1"><saml:Issuer>idp</saml:Issuer></saml:Assertion></samlp:Response>"#;
        let doc = roxmltree::Document::parse(src).expect("parse");
        let assertion = doc.root_element().first_element_child().expect("assertion");
        let plain = canonicalize(
            src,
            assertion,
            &Options {
                exclude: None,
                inclusive_prefixes: &[],
            },
        );
        assert_eq!(
            plain,
            r#"<saml:Assertion xmlns:saml="urn:a" ID="a1"><saml:Issuer>idp</saml:Issuer></saml:Assertion>"#
        );
        let with_xs = canonicalize(
            src,
            assertion,
            &Options {
                exclude: None,
                inclusive_prefixes: &["xs".to_string()],
            },
        );
        assert_eq!(
            with_xs,
            r#"<saml:Assertion xmlns:saml="urn:a" xmlns:xs="urn:xs" ID="a1"><saml:Issuer>idp</saml:Issuer></saml:Assertion>"#
        );
    }

    #[test]
    fn the_excluded_element_is_left_out() {
        let src = r#"<r xmlns:ds="urn:ds"><a>1</a><ds:Signature><x/></ds:Signature><b>2</b></r>"#;
        let doc = roxmltree::Document::parse(src).expect("parse");
        let sig = doc
            .descendants()
            .find(|n| n.tag_name().name() == "Signature")
            .expect("sig");
        let out = canonicalize(
            src,
            doc.root_element(),
            &Options {
                exclude: Some(sig.id()),
                inclusive_prefixes: &[],
            },
        );
        assert_eq!(out, "<r><a>1</a><b>2</b></r>");
    }
}
